"""The published form of payment events: the contract's payments.v1 *Event messages as JSON,
with CloudEvents 1.0 binary-mode headers. One mapper from event class to message, run once
when the event is written to the outbox; the relay ships the bytes.

Field names and their order come from the generated messages (json_name, the specification's
names). The JSON is what protobuf's JSON printer gives with every field printed (fields that
hold a value in field-number order, then the empty ones), except where the contract says the
wire differs from proto3 JSON: amounts are JSON *numbers* rendered exactly from a Decimal
(1099 EUR → 10.99, 500 JPY → 500, 1234 KWD → 1.234), never through a binary float, and
amount_minor is a JSON number, not proto3's int64 string. It is written directly from the
event, without building a protobuf message: this runs inside the committing transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, TypeVar

from google.protobuf.message import Message

from domain.events import (
    DomainEvent,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequiresAction,
    PaymentRequiresReview,
    PaymentSucceeded,
)
from domain.fx import format_rate
from domain.money import Money
from infra.messaging.wire import WireMessage
from payments.v1 import events_pb2

Exponent = Callable[[str], int | None]


class Json(str):
    """Text already in JSON form (an exact decimal number, a timestamp string)."""

    __slots__ = ()


# A field's value before encoding: text, a whole number, a list of texts, or ready JSON.
FieldValue = str | int | tuple[str, ...]
E = TypeVar("E", bound=DomainEvent)
Fields = Callable[[E, Exponent], dict[str, FieldValue]]


class _Shape:
    """A contract message's fields in field-number order, each with its `"jsonName":` prefix."""

    __slots__ = ("fields",)

    def __init__(self, message: type[Message]) -> None:
        by_number = message.DESCRIPTOR.fields_by_number
        ordered = [by_number[number] for number in sorted(by_number)]
        self.fields = tuple((f.name, encode_basestring(f.json_name) + ":") for f in ordered)

    def render(self, values: dict[str, FieldValue]) -> bytes:
        present: list[str] = []
        empty: list[str] = []
        for name, prefix in self.fields:
            value = values[name]
            if type(value) is Json:
                present.append(prefix + value)
            elif isinstance(value, str):
                (present if value else empty).append(prefix + encode_basestring(value))
            elif isinstance(value, int):
                (present if value else empty).append(prefix + str(value))
            else:
                items = ",".join(map(encode_basestring, value))
                (present if value else empty).append(prefix + "[" + items + "]")
        if empty:
            present += empty
        return ("{" + ",".join(present) + "}").encode()


_MAPPERS: dict[type[DomainEvent], tuple[_Shape, Fields[Any]]] = {}


def _maps(event: type[E], message: type[Message]) -> Callable[[Fields[E]], Fields[E]]:
    def register(fields: Fields[E]) -> Fields[E]:
        _MAPPERS[event] = (_Shape(message), fields)
        return fields

    return register


def rfc3339(moment: datetime) -> str:
    """UTC with a Z, and 0, 3 or 6 decimals as protobuf's Timestamp JSON has them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    text = utc.replace(microsecond=0, tzinfo=None).isoformat()
    micros = utc.microsecond
    if micros == 0:
        return text + "Z"
    if micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}Z"
    return f"{text}.{micros:06d}Z"


def _decimal(money: Money, exponent: Exponent) -> Json:
    digits = exponent(money.currency)
    if digits is None:
        raise ValueError(f"unknown currency {money.currency!r}")
    return Json(format(money.to_decimal(digits), "f"))


def _common(event: DomainEvent) -> dict[str, FieldValue]:
    return {
        "event_id": event.event_id,
        "payment_id": event.payment_id,
        "order_id": event.order_id,
        "timestamp": Json('"' + rfc3339(event.occurred_at) + '"'),
    }


def _settled(
    event: PaymentSucceeded | PaymentAuthorized | PaymentRefunded, exponent: Exponent
) -> dict[str, FieldValue]:
    """The settlement fields beside the specification's: an event without them (written
    before settlement existed) settled its amount itself, at rate 1."""
    settlement = event.settlement or event.amount
    rate = event.exchange_rate if event.exchange_rate is not None else 1
    return {
        "settlement_amount": _decimal(settlement, exponent),
        "settlement_currency": settlement.currency,
        "settlement_amount_minor": settlement.amount_minor,
        "exchange_rate": format_rate(Decimal(rate)),
    }


def _captured_or_held(
    event: PaymentSucceeded | PaymentAuthorized, exponent: Exponent
) -> dict[str, FieldValue]:
    return (
        _common(event)
        | {
            "amount": _decimal(event.amount, exponent),
            "currency": event.amount.currency,
            "payment_method": event.payment_method_type.value,
            "transaction_id": event.transaction_id,
            "amount_minor": event.amount.amount_minor,
        }
        | _settled(event, exponent)
    )


_maps(PaymentSucceeded, events_pb2.PaymentSuccessfulEvent)(_captured_or_held)
_maps(PaymentAuthorized, events_pb2.PaymentAuthorizedEvent)(_captured_or_held)


@_maps(PaymentFailed, events_pb2.PaymentFailedEvent)
def _failed(event: PaymentFailed, _: Exponent) -> dict[str, FieldValue]:
    return _common(event) | {
        "reason": event.reason,
        "retry_attempt": event.retry_attempt,
        "failure_code": event.failure_code,
    }


@_maps(PaymentRefunded, events_pb2.PaymentRefundedEvent)
def _refunded(event: PaymentRefunded, exponent: Exponent) -> dict[str, FieldValue]:
    return (
        _common(event)
        | {
            "refund_id": event.refund_id,
            "amount": _decimal(event.amount, exponent),
            "currency": event.amount.currency,
            "amount_minor": event.amount.amount_minor,
            "transaction_id": event.transaction_id,
        }
        | _settled(event, exponent)
    )


@_maps(PaymentCancelled, events_pb2.PaymentCancelledEvent)
def _cancelled(event: PaymentCancelled, _: Exponent) -> dict[str, FieldValue]:
    return _common(event) | {"reason": event.reason}


@_maps(PaymentRequiresAction, events_pb2.PaymentRequiresActionEvent)
def _requires_action(event: PaymentRequiresAction, _: Exponent) -> dict[str, FieldValue]:
    return _common(event) | {"next_action_url": event.next_action_url}


@_maps(PaymentRequiresReview, events_pb2.PaymentRequiresReviewEvent)
def _requires_review(event: PaymentRequiresReview, _: Exponent) -> dict[str, FieldValue]:
    return _common(event) | {"rules_hit": tuple(event.rules_hit)}


def _disputed(
    event: PaymentDisputed | PaymentDisputeClosed, exponent: Exponent
) -> dict[str, FieldValue]:
    return _common(event) | {
        "dispute_id": event.dispute_id,
        "amount": _decimal(event.amount, exponent),
        "currency": event.amount.currency,
        "amount_minor": event.amount.amount_minor,
        "reason": event.reason,
        "status": event.status,
        "gateway": event.gateway,
    }


_maps(PaymentDisputed, events_pb2.PaymentDisputedEvent)(_disputed)


@_maps(PaymentDisputeClosed, events_pb2.PaymentDisputeClosedEvent)
def _dispute_closed(event: PaymentDisputeClosed, exponent: Exponent) -> dict[str, FieldValue]:
    return _disputed(event, exponent) | {
        "outcome": event.outcome,
        "closed_at": Json('"' + rfc3339(event.closed_at) + '"'),
    }


def mapped_event_classes() -> frozenset[type[DomainEvent]]:
    return frozenset(_MAPPERS)


class EventRenderer:
    """Renders a domain event into its published form (a `RenderEvent`)."""

    def __init__(self, source: str, exponent: Exponent) -> None:
        # CloudEvents ce_source: this service, e.g. "/payment-service".
        self._source = source
        self._exponent = exponent

    def value(self, event: DomainEvent) -> bytes:
        """UTF-8 JSON of the event as published (flat object; decimals as exact numbers)."""
        try:
            shape, fields = _MAPPERS[type(event)]
        except KeyError:
            raise ValueError(f"no wire format for {type(event).__name__}") from None
        return shape.render(fields(event, self._exponent))

    def headers(self, event: DomainEvent) -> tuple[tuple[str, str], ...]:
        """CloudEvents 1.0 Kafka binary mode: the attributes as ce_* headers."""
        return (
            ("ce_specversion", "1.0"),
            ("ce_id", event.event_id),
            ("ce_type", event.event_type),
            ("ce_source", self._source),
            ("ce_time", _ce_time(event.occurred_at)),
            ("ce_subject", event.payment_id),
            ("content-type", "application/json"),
        )

    def __call__(self, event: DomainEvent) -> WireMessage:
        return WireMessage(self.value(event), self.headers(event))


def _ce_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
