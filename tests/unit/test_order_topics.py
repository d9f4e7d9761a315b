"""Which order event a record is, in both forms (infra/messaging/order_topics.py), and the
settings that name the topics (server/kafka_config.py). No broker: records built by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiokafka.structs import ConsumerRecord

from infra.messaging.order_topics import OrderTopics, PoisonMessage, decode
from server.kafka_config import KafkaSettings

TOPICS = OrderTopics(
    shared="order.events",
    per_event={"order.confirmed": "order.confirmed", "order.cancelled": "order.cancelled"},
)
SPEC_JSON = b'{"eventId":"e","orderId":"o","userId":"u","total":10.99,"currency":"EUR"}'


def record(
    topic: str, value: bytes, headers: tuple[tuple[str, bytes], ...] = ()
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, 0, 0, 0, b"o", value, None, 1, len(value), headers)


def test_a_header_less_spec_event_takes_its_type_from_its_topic() -> None:
    event_type, body = decode(record("order.confirmed", SPEC_JSON), TOPICS)
    assert event_type == "order.confirmed"
    assert body["total"] == Decimal("10.99")


def test_a_matching_ce_type_on_a_per_event_topic_is_fine() -> None:
    typed = record("order.cancelled", b'{"eventId":"e"}', (("ce_type", b"order.cancelled"),))
    assert decode(typed, TOPICS)[0] == "order.cancelled"


def test_a_type_contradicting_the_topic_is_poison() -> None:
    with pytest.raises(
        PoisonMessage, match=r"typed .order\.cancelled. on the order\.confirmed topic"
    ):
        decode(record("order.confirmed", SPEC_JSON, (("ce_type", b"order.cancelled"),)), TOPICS)
    with pytest.raises(
        PoisonMessage, match=r"typed .order\.cancelled. on the order\.confirmed topic"
    ):
        decode(record("order.confirmed", b'{"type":"order.cancelled"}'), TOPICS)


def test_the_shared_topic_needs_a_type() -> None:
    assert decode(record("order.events", SPEC_JSON, (("ce_type", b"x.y"),)), TOPICS)[0] == "x.y"
    assert decode(record("order.events", b'{"eventType":"a.b"}'), TOPICS)[0] == "a.b"
    with pytest.raises(PoisonMessage, match="no event type"):
        decode(record("order.events", SPEC_JSON), TOPICS)


@pytest.mark.parametrize("value", [b"{no", b"[1]", b"\xff"])
def test_what_is_not_a_json_object_is_poison(value: bytes) -> None:
    with pytest.raises(PoisonMessage):
        decode(record("order.confirmed", value), TOPICS)


def test_the_settings_name_the_topics_and_refuse_one_topic_for_two_meanings() -> None:
    settings = KafkaSettings(
        kafka_topic_order_cancelled="", kafka_topic_order_confirmed="shop.paid"
    )
    topics = settings.order_topics()
    assert topics.subscribed == ["order.events", "shop.paid"]
    assert topics.per_event == {"shop.paid": "order.confirmed"}
    assert topics.dead_letter == "order.events.dlq"
    with pytest.raises(ValueError, match="different topics"):
        KafkaSettings(kafka_topic_order_confirmed="order.events")
    with pytest.raises(ValueError, match="PAYMENT_EVENTS"):
        KafkaSettings(kafka_topic_payment_events="order.confirmed")
    with pytest.raises(ValueError, match="both the shared"):
        OrderTopics(shared="a", per_event={"a": "order.confirmed"})
