"""Typed parser of the payment events the service publishes on Kafka (the AsyncAPI document
generated/asyncapi.json describes the topic): amounts as `Decimal`, exactly as written, never
through a binary float; timestamps as aware datetimes.

    event = parse_payment_event(record.value, headers=record.headers)
    match event:
        case PaymentSuccessful(amount=amount, currency=currency): ...

The order events the service consumes are built by payments_client.order_events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, get_type_hints


class EventParseError(ValueError):
    """The value is not a payment event of the contract."""


@dataclass(frozen=True)
class _Event:
    event_id: str
    payment_id: str
    order_id: str
    timestamp: datetime


@dataclass(frozen=True)
class _Settled(_Event):
    amount: Decimal
    currency: str
    amount_minor: int
    transaction_id: str
    # Beside the specification's fields: the amount in the payment's settlement currency.
    settlement_amount: Decimal
    settlement_currency: str
    settlement_amount_minor: int
    exchange_rate: Decimal


@dataclass(frozen=True)
class PaymentAuthorized(_Settled):
    """payment.authorized: the gateway holds the amount."""

    payment_method: str


@dataclass(frozen=True)
class PaymentSuccessful(_Settled):
    """payment.successful: the money was captured."""

    payment_method: str


@dataclass(frozen=True)
class PaymentRefunded(_Settled):
    """payment.refunded: money returned to the payment method."""

    refund_id: str


@dataclass(frozen=True)
class PaymentFailed(_Event):
    """payment.failed: a decline or a failed attempt."""

    reason: str
    retry_attempt: int
    failure_code: str


@dataclass(frozen=True)
class PaymentCancelled(_Event):
    """payment.cancelled: the authorization was voided or the payment abandoned."""

    reason: str


@dataclass(frozen=True)
class PaymentRequiresAction(_Event):
    """payment.requires_action: the customer must act (3-D Secure, PayPal approval)."""

    next_action_url: str


@dataclass(frozen=True)
class PaymentRequiresReview(_Event):
    """payment.requires_review: the fraud checks held the payment for an admin."""

    rules_hit: tuple[str, ...]


@dataclass(frozen=True)
class PaymentDisputed(_Event):
    """payment.disputed: the cardholder (or buyer) opened a dispute at the gateway."""

    dispute_id: str
    amount: Decimal
    currency: str
    amount_minor: int
    reason: str
    status: str
    gateway: str


@dataclass(frozen=True)
class PaymentDisputeClosed(PaymentDisputed):
    """payment.dispute_closed: the dispute ended (outcome WON, LOST or CLOSED)."""

    outcome: str
    closed_at: datetime


PaymentEvent = (
    PaymentAuthorized
    | PaymentSuccessful
    | PaymentRefunded
    | PaymentFailed
    | PaymentCancelled
    | PaymentRequiresAction
    | PaymentRequiresReview
    | PaymentDisputed
    | PaymentDisputeClosed
)

EVENT_TYPES: Mapping[str, type[PaymentEvent]] = {
    "payment.authorized": PaymentAuthorized,
    "payment.successful": PaymentSuccessful,
    "payment.refunded": PaymentRefunded,
    "payment.failed": PaymentFailed,
    "payment.cancelled": PaymentCancelled,
    "payment.requires_action": PaymentRequiresAction,
    "payment.requires_review": PaymentRequiresReview,
    "payment.disputed": PaymentDisputed,
    "payment.dispute_closed": PaymentDisputeClosed,
}


def json_name(field: str) -> str:
    """The wire name of a field (the contract's json_name): next_action_url -> nextActionUrl."""
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


def parse_payment_event(
    value: bytes | str,
    *,
    event_type: str | None = None,
    headers: Iterable[tuple[str, bytes | str]] | None = None,
) -> PaymentEvent:
    """The event of a Kafka record: its type from `event_type` or the `ce_type` header."""
    if event_type is None:
        for key, raw in headers or ():
            if key == "ce_type":
                event_type = raw.decode() if isinstance(raw, bytes) else raw
    if event_type is None or event_type not in EVENT_TYPES:
        raise EventParseError(f"not a payment event type: {event_type!r}")
    try:
        body = json.loads(value, parse_float=Decimal)
    except ValueError as exc:
        raise EventParseError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EventParseError("the value is not a JSON object")
    kind = EVENT_TYPES[event_type]
    hints = get_type_hints(kind)
    values = {f.name: _convert(body, f.name, hints[f.name]) for f in fields(kind)}
    return kind(**values)


def _convert(body: Mapping[str, Any], name: str, hint: Any) -> Any:
    wire = json_name(name)
    if wire not in body:
        raise EventParseError(f"{wire} is missing")
    value = body[wire]
    if hint is Decimal:
        # A JSON number parsed as Decimal (or int), or a decimal string (exchangeRate).
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise EventParseError(f"{wire} is not a decimal")
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise EventParseError(f"{wire} is not a decimal") from exc
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventParseError(f"{wire} is not an integer")
        return value
    if hint is datetime:
        if not isinstance(value, str) or not value.endswith("Z"):
            raise EventParseError(f"{wire} is not an RFC 3339 UTC time")
        return datetime.fromisoformat(value)
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EventParseError(f"{wire} is not a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        raise EventParseError(f"{wire} is not a string")
    return value


__all__ = [
    "EVENT_TYPES",
    "EventParseError",
    "PaymentAuthorized",
    "PaymentCancelled",
    "PaymentDisputeClosed",
    "PaymentDisputed",
    "PaymentEvent",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentRequiresAction",
    "PaymentRequiresReview",
    "PaymentSuccessful",
    "json_name",
    "parse_payment_event",
]
