"""Disputes in the domain: what they amount to on their payment (and its net amount), the
events they raise, and ListDisputes' filter and page tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.dispute import Dispute, DisputeStatus
from domain.dispute_listing import (
    DisputeField,
    dispute_query,
    encode_dispute_token,
    parse_dispute_filter,
)
from domain.enums import GatewayName
from domain.errors import ValidationFailed
from domain.events import PaymentDisputeClosed, PaymentDisputed
from domain.money import Money
from domain.pagination import Cursor
from domain.payment_disputes import PaymentDisputes
from domain.payment_filter import Operator

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PAYMENT = "0b7f3b1e-0000-4000-8000-000000000002"


def dispute(n: int, amount: int, status: DisputeStatus = DisputeStatus.OPENED) -> Dispute:
    at = T0 + timedelta(minutes=n)
    return Dispute(
        id=f"d{n}", payment_id=PAYMENT, gateway=GatewayName.STRIPE, gateway_dispute_id=f"dp_{n}",
        amount=Money(amount, "EUR"), reason="fraudulent", status=status,
        created_at=at, updated_at=at, closed_at=None if status is DisputeStatus.OPENED else at,
    )  # fmt: skip


def test_a_payment_never_disputed_has_no_summary() -> None:
    assert PaymentDisputes.of([], "EUR") is None


def test_the_summary_sums_every_dispute_and_the_lost_ones() -> None:
    summary = PaymentDisputes.of(
        [dispute(1, 300, DisputeStatus.LOST), dispute(2, 200, DisputeStatus.WON)], "EUR"
    )
    assert summary == PaymentDisputes(Money(500, "EUR"), Money(300, "EUR"), DisputeStatus.WON)
    still_open = PaymentDisputes.of([dispute(1, 300, DisputeStatus.LOST), dispute(0, 5)], "EUR")
    assert still_open is not None and still_open.status is DisputeStatus.OPENED


def test_opening_and_closing_record_their_events_once() -> None:
    d = dispute(1, 700)
    d.record_opened("order-1", "e1")
    assert d.close(DisputeStatus.LOST, T0, "order-1", "e2")
    assert not d.close(DisputeStatus.WON, T0, "order-1", "e3")  # closed stays closed
    opened, closed = d.pull_events()
    assert isinstance(opened, PaymentDisputed) and isinstance(closed, PaymentDisputeClosed)
    assert (opened.dispute_id, opened.amount, opened.status, opened.gateway) == (
        "d1", Money(700, "EUR"), "OPENED", "STRIPE",
    )  # fmt: skip
    assert (closed.outcome, closed.closed_at, closed.order_id) == ("LOST", T0, "order-1")
    assert d.pull_events() == []


def test_the_filter_reads_status_payment_gateway_and_time() -> None:
    parsed = parse_dispute_filter(
        f'status = DISPUTE_STATUS_LOST AND payment_id = "{PAYMENT}" AND gateway != PAYPAL'
        ' AND create_time >= "2026-12-01T00:00:00+01:00"'
    )
    assert [(c.field, c.op, c.value) for c in parsed.comparisons] == [
        (DisputeField.STATUS, Operator.EQ, DisputeStatus.LOST),
        (DisputeField.PAYMENT_ID, Operator.EQ, PAYMENT),
        (DisputeField.GATEWAY, Operator.NE, GatewayName.PAYPAL),
        (DisputeField.CREATE_TIME, Operator.GE, datetime(2026, 11, 30, 23, 0, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount > 5", "unknown field"),
        ("status > OPENED", "does not support"),
        ("status = PENDING", "has no value"),
        ('payment_id = "nope"', "must be a UUID"),
        ("status = OPENED OR status = LOST", "OR is not supported"),
        ("status = OPENED AND", "ends with AND"),
        ('create_time > "yesterday"', "RFC 3339"),
    ],
)
def test_the_filter_refuses_what_it_cannot_read(text: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_dispute_filter(text)
    [violation] = raised.value.violations
    assert violation.field == "filter" and problem in violation.description


def test_a_page_token_is_bound_to_its_filter_and_caller() -> None:
    flt = parse_dispute_filter("status = OPENED")
    token = encode_dispute_token(Cursor(T0, PAYMENT), flt, "alice")
    assert dispute_query(10, token, "status = OPENED", "alice").after == Cursor(T0, PAYMENT)
    for other_filter, caller in (("status = LOST", "alice"), ("status = OPENED", "bob")):
        with pytest.raises(ValidationFailed) as raised:
            dispute_query(10, token, other_filter, caller)
        assert raised.value.violations[0].field == "page_token"
    with pytest.raises(ValidationFailed):
        dispute_query(10, "not-a-token", "", "alice")
    assert dispute_query(0, "", "", "alice").size == 50
    assert dispute_query(10_000, "", "", "alice").size == 500
