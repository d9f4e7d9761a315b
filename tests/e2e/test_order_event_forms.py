"""Both forms of order events on a real broker (Tansu): the specification's header-less JSON on
a topic per event, and CloudEvents on the shared topic. The messages are built with the
published client's builders (payments_client.order_events), so these also prove that what the
client writes is what the service understands. Own database (see test_order_events_consumer)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from payments_client.order_events import OrderEventMessage, order_cancelled, order_confirmed
from tests.e2e.helpers import new_id
from tests.e2e.test_order_events_consumer import (
    payments_of,
    producer,
    reader,
    running_app,
    types_for,
    user_with_default_card,
    wait_for_types,
)
from tests.support import databases
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually

SHARED, DLQ, PAYMENTS = "order.events", "order.events.dlq", "payment.events"
CONFIRMED, CANCELLED = "order.confirmed", "order.cancelled"


@pytest.fixture(scope="module")
def forms_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_order_forms") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(SHARED, DLQ, PAYMENTS, CONFIRMED, CANCELLED, "shop.orders.paid"))
    yield server
    server.stop()


async def send(
    orders: AIOKafkaProducer, message: OrderEventMessage, key: bytes | None = None
) -> None:
    await orders.send_and_wait(
        message.topic, message.value, key=key or message.key, headers=list(message.headers)
    )


def test_the_spec_form_is_the_specification_json_without_headers() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = order_confirmed(
        order_id="o",
        user_id="u",
        total=Decimal("10.99"),
        currency="EUR",
        event_id="e",
        timestamp=at,
    )
    assert (message.topic, message.key, message.headers) == (CONFIRMED, b"o", ())
    body = json.loads(message.value, parse_float=Decimal)
    assert list(body) == ["eventId", "orderId", "userId", "total", "currency", "timestamp"]
    assert body["total"] == Decimal("10.99") and b'"total":10.99,' in message.value
    assert body["timestamp"] == "2026-01-02T03:04:05Z"
    cloud = order_confirmed(
        order_id="o", user_id="u", total=Decimal("10.99"), currency="EUR", event_id="e",
        timestamp=at, form="cloudevents",
    )  # fmt: skip
    # The same JSON; only the topic and the headers differ.
    assert (cloud.topic, cloud.key, cloud.value) == (SHARED, b"o", message.value)
    assert dict(cloud.headers)["ce_type"] == CONFIRMED.encode()
    assert dict(cloud.headers)["ce_id"] == b"e"
    with pytest.raises(TypeError):
        order_confirmed(order_id="o", user_id="u", total=10.99, currency="EUR")  # type: ignore[arg-type]


async def test_a_spec_event_on_its_own_topic_pays_once_in_either_form(
    forms_database_url: str, broker: TansuBroker
) -> None:
    """order.confirmed as the specification writes it, on `order.confirmed`, with no headers:
    authorized. The same event delivered again - on its topic, and in the CloudEvents form on
    the shared topic - acts no more (the inbox knows its eventId, whichever topic it came by)."""
    async with (
        running_app(forms_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        spec = order_confirmed(order_id=order, user_id=user, total=Decimal("10.99"), currency="EUR")
        assert spec.topic == CONFIRMED and spec.headers == ()
        await send(orders, spec)
        await wait_for_types(published, order, ["payment.authorized"])
        await send(orders, spec)
        again = order_confirmed(
            order_id=order, user_id=user, total=Decimal("10.99"), currency="EUR",
            event_id=spec.event_id, form="cloudevents",
        )  # fmt: skip
        await send(orders, again)
        # Later orders behind the redeliveries, on both topics, with the first order's key
        # (same partition of each topic): once they are paid, the redeliveries were consumed.
        later_spec, later_cloud = new_id(), new_id()
        await send(
            orders,
            order_confirmed(order_id=later_spec, user_id=user, total=1, currency="EUR"),
            key=spec.key,
        )
        await send(
            orders,
            order_confirmed(
                order_id=later_cloud, user_id=user, total=1, currency="EUR", form="cloudevents"
            ),
            key=spec.key,
        )
        await wait_for_types(published, later_spec, ["payment.authorized"])
        await wait_for_types(published, later_cloud, ["payment.authorized"])
        assert await payments_of(forms_database_url, order) == 1
        assert types_for(published, order) == ["payment.authorized"]
        [event] = [e for e in published.events() if e.get("orderId") == order]
        assert event["amount"] == Decimal("10.99")


async def test_a_spec_cancellation_on_its_own_topic_voids(
    forms_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(forms_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        await send(orders, order_confirmed(order_id=order, user_id=user, total=7, currency="EUR"))
        await wait_for_types(published, order, ["payment.authorized"])
        cancel = order_cancelled(order_id=order, reason="customer changed their mind")
        assert cancel.topic == CANCELLED and cancel.headers == ()
        await send(orders, cancel)
        await wait_for_types(published, order, ["payment.authorized", "payment.cancelled"])


async def test_cloudevents_on_the_shared_topic_still_act(
    forms_database_url: str, broker: TansuBroker
) -> None:
    """The ce_type header alone types the message (no type field in the JSON)."""
    async with (
        running_app(forms_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        message = order_confirmed(
            order_id=order, user_id=user, total=Decimal("3.50"), currency="EUR",
            form="cloudevents",
        )  # fmt: skip
        assert message.topic == SHARED and b'"type"' not in message.value
        await send(orders, message)
        await wait_for_types(published, order, ["payment.authorized"])


async def test_untyped_or_ambiguous_events_are_dead_lettered_with_a_reason(
    forms_database_url: str, broker: TansuBroker
) -> None:
    """The spec's header-less JSON on the shared topic has no type; a record on a per-event
    topic whose ce_type names another event is ambiguous: both dead-lettered, with the reason
    and the topic they came from, and consumption goes on."""
    async with (
        running_app(forms_database_url, broker) as channel,
        reader(broker, DLQ) as dead,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        spec = order_confirmed(order_id=order, user_id=user, total=2, currency="EUR")
        await orders.send_and_wait(SHARED, spec.value, key=spec.key)
        await orders.send_and_wait(
            CONFIRMED, spec.value, key=spec.key, headers=[("ce_type", b"order.cancelled")]
        )
        await send(orders, spec)  # the right way, after the two on its topic's partition

        async def dead_lettered() -> bool:
            await dead.poll()
            return len(dead.records) >= 2

        await eventually(dead_lettered, within=20)
        await wait_for_types(published, order, ["payment.authorized"])
        reasons = {
            dict(r.headers)["original_topic"].decode(): dict(r.headers)["error"].decode()
            for r in dead.records
        }
        assert "no event type" in reasons[SHARED]
        assert "'order.cancelled'" in reasons[CONFIRMED] and "order.confirmed" in reasons[CONFIRMED]
        assert await payments_of(forms_database_url, order) == 1


async def test_per_event_topics_are_configurable(
    forms_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(
            forms_database_url, broker, kafka_topic_order_confirmed="shop.orders.paid"
        ) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        await send(
            orders,
            order_confirmed(
                order_id=order, user_id=user, total=4, currency="EUR", topic="shop.orders.paid"
            ),
        )
        await wait_for_types(published, order, ["payment.authorized"])
