"""Builders of the order events the service consumes, ready to hand to a Kafka producer, in
either form it understands (generated/asyncapi.json describes both):

- `"spec"` (the default): exactly the specification's JSON, no headers, on the topic named as
  the specification names the event (`order.confirmed`); the topic says the type.
- `"cloudevents"`: the same JSON on the one shared topic (`order.events`), typed by CloudEvents
  binary-mode `ce_*` headers.

    message = order_confirmed(order_id=o, user_id=u, total=Decimal("10.99"), currency="EUR")
    await producer.send_and_wait(message.topic, message.value, key=message.key,
                                 headers=list(message.headers))

Amounts are exact: a `Decimal` (or int) written as a JSON number digit for digit, never a
float, which has already lost the exactness the service checks (`10.999` EUR is refused).
The key is the order id, so one order's events stay in order on one partition.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

ORDER_CONFIRMED = "order.confirmed"
ORDER_CANCELLED = "order.cancelled"
SHARED_TOPIC = "order.events"
Form = Literal["spec", "cloudevents"]


@dataclass(frozen=True)
class OrderEventMessage:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event_id: str
    event_type: str


def _timestamp(at: datetime | None) -> str:
    moment = at or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decimal_json(amount: Decimal | int) -> str:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError("total must be a Decimal or an int (a float is not exact)")
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError("total must be a finite number")
    return format(value, "f")


def _render(fields: list[tuple[str, str | Decimal | int]]) -> bytes:
    # By hand, so that a Decimal becomes a JSON number with its own digits (json.dumps would
    # refuse it, and a float on the way would round it).
    parts = []
    for name, value in fields:
        text = json.dumps(value) if isinstance(value, str) else _decimal_json(value)
        parts.append(f"{json.dumps(name)}:{text}")
    return ("{" + ",".join(parts) + "}").encode()


def _message(
    event_type: str,
    fields: list[tuple[str, str | Decimal | int]],
    *,
    order_id: str,
    event_id: str,
    time: str,
    form: Form,
    topic: str | None,
    source: str,
) -> OrderEventMessage:
    value = _render(fields)
    if form == "spec":
        return OrderEventMessage(
            topic or event_type, order_id.encode(), value, (), event_id, event_type
        )
    if form != "cloudevents":
        raise ValueError(f"unknown form {form!r}: 'spec' or 'cloudevents'")
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_type", event_type.encode()),
        ("ce_source", source.encode()),
        ("ce_time", time.encode()),
        ("ce_subject", order_id.encode()),
        ("content-type", b"application/json"),
    )
    return OrderEventMessage(
        topic or SHARED_TOPIC, order_id.encode(), value, headers, event_id, event_type
    )


def order_confirmed(
    *,
    order_id: str,
    user_id: str,
    total: Decimal | int,
    currency: str,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    form: Form = "spec",
    topic: str | None = None,
    source: str = "/order-service",
) -> OrderEventMessage:
    """order.confirmed: the service pays the order with the user's default saved method.
    `topic` overrides the form's default (KAFKA_TOPIC_ORDER_CONFIRMED / _ORDER_EVENTS)."""
    event_id = event_id or str(uuid.uuid4())
    time = _timestamp(timestamp)
    fields: list[tuple[str, str | Decimal | int]] = [
        ("eventId", event_id),
        ("orderId", order_id),
        ("userId", user_id),
        ("total", total),
        ("currency", currency),
        ("timestamp", time),
    ]
    return _message(
        ORDER_CONFIRMED, fields, order_id=order_id, event_id=event_id, time=time,
        form=form, topic=topic, source=source,
    )  # fmt: skip


def order_cancelled(
    *,
    order_id: str,
    reason: str = "",
    event_id: str | None = None,
    timestamp: datetime | None = None,
    form: Form = "spec",
    topic: str | None = None,
    source: str = "/order-service",
) -> OrderEventMessage:
    """order.cancelled: the service voids the order's payment, or refunds it if captured."""
    event_id = event_id or str(uuid.uuid4())
    time = _timestamp(timestamp)
    fields: list[tuple[str, str | Decimal | int]] = [("eventId", event_id), ("orderId", order_id)]
    if reason:
        fields.append(("reason", reason))
    fields.append(("timestamp", time))
    return _message(
        ORDER_CANCELLED, fields, order_id=order_id, event_id=event_id, time=time,
        form=form, topic=topic, source=source,
    )  # fmt: skip


__all__ = [
    "ORDER_CANCELLED",
    "ORDER_CONFIRMED",
    "SHARED_TOPIC",
    "Form",
    "OrderEventMessage",
    "order_cancelled",
    "order_confirmed",
]
