"""The published form of events (server/events_wire.py): every event class has one, the bytes
are the ones published before the outbox stored them (pinned; the money events have the
settlement fields appended since), and they agree with
protobuf's own JSON printer of the contract's messages for any event. Rows written before
revision 0016 (a neutral payload) read back into the very event they were written from."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings

from domain.events import DomainEvent, event_classes
from domain.fx import format_rate
from infra.currency import iso4217_catalog
from infra.db.outbox import legacy_event
from payments.v1 import events_pb2
from server.events_wire import EventRenderer, mapped_event_classes
from tests.support.event_samples import any_events, sample_events
from tests.support.legacy_outbox import legacy_payload

PROPERTY = settings(max_examples=300, deadline=None)
EXPONENT = iso4217_catalog().exponent
RENDER = EventRenderer("/payment-service", EXPONENT)

_IDS = '"eventId":"0b7f3b1e-0000-4000-8000-000000000001","paymentId":"0b7f3b1e-0000-4000-8000-000000000002"'  # noqa: E501
_AT = '"timestamp":"2026-12-07T10:00:00.123456Z"'
# What the relay published for sample_events() before the outbox stored the published form.
PUBLISHED = {
    "payment.authorized": '{%s,"orderId":"order-1","amount":10.99,"currency":"EUR","paymentMethod":"CREDIT_CARD","transactionId":"txn-1",%s,"amountMinor":1099,"settlementAmount":10.99,"settlementCurrency":"EUR","settlementAmountMinor":1099,"exchangeRate":"1"}',  # noqa: E501
    "payment.successful": '{%s,"orderId":"order-1","amount":1500.00,"currency":"HUF","paymentMethod":"CREDIT_CARD","transactionId":"txn-2",%s,"amountMinor":150000,"settlementAmount":3.75,"settlementCurrency":"EUR","settlementAmountMinor":375,"exchangeRate":"0.0025"}',  # noqa: E501
    "payment.refunded": '{%s,"refundId":"refund-1","amount":1.234,%s,"orderId":"order-1","currency":"KWD","amountMinor":1234,"transactionId":"txn-3","settlementAmount":1.234,"settlementCurrency":"KWD","settlementAmountMinor":1234,"exchangeRate":"1"}',  # noqa: E501
    "payment.failed": '{%s,"orderId":"order-1","reason":"declined","retryAttempt":2,%s,"failureCode":"CARD_DECLINED"}',  # noqa: E501
    "payment.cancelled": '{%s,"orderId":"order-1","reason":"customer asked",%s}',
    "payment.requires_action": '{%s,"orderId":"order-1","nextActionUrl":"https://example.test/3ds",%s}',
    "payment.requires_review": '{%s,"orderId":"order-1","rulesHit":["AMOUNT_OVER_REVIEW_LIMIT","VELOCITY_USER"],%s}',  # noqa: E501
    "payment.disputed": '{%s,"orderId":"order-1","disputeId":"dispute-1","amount":10.99,"currency":"EUR","amountMinor":1099,"reason":"fraudulent","status":"OPENED","gateway":"STRIPE",%s}',  # noqa: E501
    "payment.dispute_closed": '{%s,"orderId":"order-1","disputeId":"dispute-1","amount":1.234,"currency":"KWD","amountMinor":1234,"reason":"fraudulent","status":"LOST","gateway":"PAYPAL",%s,"outcome":"LOST","closedAt":"2026-12-07T10:00:00.123456Z"}',  # noqa: E501
}


def test_every_event_class_has_a_published_form() -> None:
    classes = event_classes()
    assert classes == mapped_event_classes()
    assert len({cls.event_type for cls in classes}) == len(classes)  # one type per class
    assert {type(event) for event in sample_events()} == classes


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.event_type)
def test_the_published_bytes_and_headers_are_the_ones_published_before(
    event: DomainEvent,
) -> None:
    wire = RENDER(event)
    assert wire.value == (PUBLISHED[event.event_type] % (_IDS, _AT)).encode()
    assert wire.kafka_headers() == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"0b7f3b1e-0000-4000-8000-000000000001"),
        ("ce_type", event.event_type.encode()),
        ("ce_source", b"/payment-service"),
        ("ce_time", b"2026-12-07T10:00:00.123456Z"),
        ("ce_subject", b"0b7f3b1e-0000-4000-8000-000000000002"),
        ("content-type", b"application/json"),
    ]


def _contract_message(event: DomainEvent) -> type[Message]:
    """payment.requires_action -> PaymentRequiresActionEvent."""
    words = re.split(r"[._]", event.event_type)
    message: type[Message] = getattr(events_pb2, "".join(map(str.title, words)) + "Event")
    return message


def _contract_fields(event: DomainEvent) -> dict[str, Any]:
    """The event's fields under their own names, plus the contract's spelling of the time,
    the amount (with its currency and minor units) and the payment method."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    stamp = Timestamp()
    stamp.FromDatetime(event.occurred_at.astimezone(UTC))
    fields["timestamp"] = stamp
    if "closed_at" in fields:
        closed = Timestamp()
        closed.FromDatetime(fields["closed_at"].astimezone(UTC))
        fields["closed_at"] = closed
    if "amount" in fields:
        money = fields["amount_money"] = fields["amount"]
        digits = EXPONENT(money.currency)
        assert digits is not None
        fields["amount"] = str(money.to_decimal(digits))
        fields |= {"currency": money.currency, "amount_minor": money.amount_minor}
    if "payment_method_type" in fields:
        fields["payment_method"] = fields["payment_method_type"].value
    if "settlement" in fields:
        settled = fields["settlement"] or fields["amount_money"]
        digits = EXPONENT(settled.currency)
        assert digits is not None
        rate = fields["exchange_rate"]
        fields |= {
            "settlement_amount": str(settled.to_decimal(digits)),
            "settlement_currency": settled.currency,
            "settlement_amount_minor": settled.amount_minor,
            "exchange_rate": format_rate(rate if rate is not None else Decimal(1)),
        }
    return fields


def protobuf_printed(event: DomainEvent) -> bytes:
    """protobuf's JSON of the contract message, every field printed, with the contract's
    two departures: amount as an exact JSON number, amountMinor as a number."""
    cls, fields = _contract_message(event), _contract_fields(event)
    message = cls(**{f.name: fields[f.name] for f in cls.DESCRIPTOR.fields})
    printed = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    parts = []
    for key, value in printed.items():
        if key in {"amount", "settlementAmount"}:
            text = format(Decimal(value), "f")
        elif key in {"amountMinor", "settlementAmountMinor"}:
            text = str(int(value))
        else:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(json.dumps(key) + ":" + text)
    return ("{" + ",".join(parts) + "}").encode()


@PROPERTY
@given(any_events())
def test_the_published_json_is_protobufs_json_of_the_contract_message(
    event: DomainEvent,
) -> None:
    assert RENDER.value(event) == protobuf_printed(event)


@PROPERTY
@given(any_events())
def test_the_headers_name_the_event(event: DomainEvent) -> None:
    headers = dict(RENDER(event).headers)
    assert headers["ce_id"] == event.event_id
    assert headers["ce_type"] == event.event_type
    assert headers["ce_subject"] == event.payment_id
    moment = event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert headers["ce_time"] == moment
    assert headers["ce_time"].endswith("Z")


@PROPERTY
@given(any_events())
def test_a_row_written_before_0016_reads_back_into_its_event(event: DomainEvent) -> None:
    assert legacy_event(event.event_type, legacy_payload(event)) == event


def test_an_unknown_event_type_in_an_old_row_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"payment\.teleported"):
        legacy_event("payment.teleported", {})
