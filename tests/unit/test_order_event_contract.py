"""The order events the Python client builds, in both forms, are what the AsyncAPI document
(generated/asyncapi.json) describes on the channel each goes to, and the document's per-event
topics are the service's settings and defaults."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from payments_client.order_events import OrderEventMessage, order_cancelled, order_confirmed
from server.kafka_config import KafkaSettings

ASYNCAPI = Path(__file__).resolve().parents[2] / "generated" / "asyncapi.json"
ORDER, USER = "6f1c2b9e-8d1a-4c5e-9f00-1a2b3c4d5e6f", "0b7a4d3e-2c1f-4e5d-8a9b-7c6d5e4f3a2b"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASYNCAPI.read_text())
    return loaded


def channel_messages(address: str) -> dict[str, dict[str, Any]]:
    """event type -> message (payload schema resolved) of the channel at `address`."""
    doc = document()
    [chan] = [c for c in doc["channels"].values() if c["address"] == address]
    found = {}
    for ref in chan["messages"].values():
        message = dict(doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]])
        schema = message["payload"]["$ref"].rsplit("/", 1)[1]
        message["payload"] = doc["components"]["schemas"][schema]
        found[message["name"]] = message
    return found


def built() -> list[OrderEventMessage]:
    return [
        order_confirmed(order_id=ORDER, user_id=USER, total=Decimal("10.99"), currency="EUR"),
        order_confirmed(
            order_id=ORDER, user_id=USER, total=500, currency="JPY", form="cloudevents"
        ),
        order_cancelled(order_id=ORDER, reason="out of stock"),
        order_cancelled(order_id=ORDER, form="cloudevents"),
    ]


@pytest.mark.parametrize("message", built(), ids=lambda m: f"{m.event_type}@{m.topic}")
def test_a_built_order_event_matches_its_channel(message: OrderEventMessage) -> None:
    described = channel_messages(message.topic)[message.event_type]
    value = json.loads(message.value)
    headers = {name: raw.decode() for name, raw in message.headers}
    payload_errors = jsonschema_rs.validator_for(described["payload"]).iter_errors(value)
    assert not [e.message for e in payload_errors]
    header_errors = jsonschema_rs.validator_for(described["headers"]).iter_errors(headers)
    assert not [e.message for e in header_errors]


def test_the_per_event_topics_are_the_services_settings_and_defaults() -> None:
    defaults = KafkaSettings()
    per_event = {
        c["address"]: c["description"]
        for key, c in document()["channels"].items()
        if key not in {"paymentEvents", "orderEvents", "orderEventsDeadLetter"}
    }
    assert (
        set(per_event)
        == set(defaults.order_topics().per_event)
        == {
            "order.confirmed",
            "order.cancelled",
        }
    )
    for address, description in per_event.items():
        setting = "KAFKA_TOPIC_" + address.upper().replace(".", "_")
        assert setting in description
        assert getattr(defaults, setting.lower()) == address
