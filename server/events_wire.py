"""The published JSON of payment events (the contract's payments.v1 *Event messages), rendered
from the neutral outbox payload (infra/db/outbox.py).

The field names come from the generated messages (their json_name, the specification's
names). Amounts are decimal strings in the contract because proto3 JSON has no decimal type;
on the wire they are JSON *numbers* rendered exactly from a Decimal (1099 EUR → 10.99,
500 JPY → 500, 1234 KWD → 1.234), never through a binary float.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from domain.money import Money
from payments.v1 import events_pb2

# Fields that are decimal strings in the contract and JSON numbers on the wire.
_DECIMAL_FIELDS = frozenset({"amount", "total"})
# int64 fields, which proto3 JSON renders as strings: the wire has them as numbers.
_INTEGER_FIELDS = frozenset({"amountMinor"})

Exponent = Callable[[str], int | None]


def _timestamp(value: str) -> Timestamp:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def _amount(payload: dict[str, Any], exponent: Exponent) -> tuple[Decimal, str, int]:
    money = payload["amount"]
    currency, minor = str(money["currency"]), int(money["amountMinor"])
    digits = exponent(currency)
    if digits is None:
        raise ValueError(f"unknown currency {currency!r}")
    return Money(minor, currency).to_decimal(digits), currency, minor


def _message(event_type: str, p: dict[str, Any], exponent: Exponent) -> Message:
    common = {
        "event_id": p["eventId"],
        "payment_id": p["paymentId"],
        "timestamp": _timestamp(p["occurredAt"]),
    }
    if event_type in ("payment.successful", "payment.authorized"):
        amount, currency, minor = _amount(p, exponent)
        cls = (
            events_pb2.PaymentSuccessfulEvent
            if event_type == "payment.successful"
            else events_pb2.PaymentAuthorizedEvent
        )
        return cls(
            **common,
            order_id=p["orderId"],
            amount=str(amount),
            currency=currency,
            payment_method=p.get("paymentMethodType") or "",
            transaction_id=p.get("transactionId") or "",
            amount_minor=minor,
        )
    if event_type == "payment.failed":
        return events_pb2.PaymentFailedEvent(
            **common,
            order_id=p["orderId"],
            reason=p.get("reason") or "",
            retry_attempt=int(p.get("retryAttempt") or 0),
            failure_code=p.get("failureCode") or "",
        )
    if event_type == "payment.refunded":
        amount, currency, minor = _amount(p, exponent)
        return events_pb2.PaymentRefundedEvent(
            **common,
            refund_id=p["refundId"],
            amount=str(amount),
            order_id=p["orderId"],
            currency=currency,
            amount_minor=minor,
            transaction_id=p.get("transactionId") or "",
        )
    if event_type == "payment.cancelled":
        return events_pb2.PaymentCancelledEvent(
            **common, order_id=p["orderId"], reason=p.get("reason") or ""
        )
    if event_type == "payment.requires_action":
        return events_pb2.PaymentRequiresActionEvent(
            **common, order_id=p["orderId"], next_action_url=p.get("nextActionUrl") or ""
        )
    if event_type == "payment.requires_review":
        return events_pb2.PaymentRequiresReviewEvent(
            **common, order_id=p["orderId"], rules_hit=list(p.get("rulesHit") or ())
        )
    raise ValueError(f"no wire format for event type {event_type!r}")


def wire_fields(event_type: str, payload: dict[str, Any], exponent: Exponent) -> dict[str, Any]:
    """The event's fields by wire name, decimals as Decimal."""
    message = _message(event_type, payload, exponent)
    fields = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    for name in _DECIMAL_FIELDS & fields.keys():
        fields[name] = Decimal(fields[name])
    for name in _INTEGER_FIELDS & fields.keys():
        fields[name] = int(fields[name])
    return fields


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_event(event_type: str, payload: dict[str, Any], exponent: Exponent) -> bytes:
    """UTF-8 JSON of the event as published (flat object; decimals as exact JSON numbers)."""
    fields = wire_fields(event_type, payload, exponent)
    body = ",".join(f"{_encode(key)}:{_encode(value)}" for key, value in fields.items())
    return ("{" + body + "}").encode()
