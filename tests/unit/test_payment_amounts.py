"""The value objects of the Payment aggregate: PaymentAmounts (every amount a Money, kept in
order, refusing mixed currencies), PaymentRisk, Authentication and PaymentTimes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.enums import PaymentStatus, ScaExemption
from domain.errors import (
    AmountExceedsCapturable,
    AmountExceedsRefundable,
    CurrencyMismatch,
    InvalidStateTransition,
    PaymentNotUnderReview,
)
from domain.money import Money
from domain.payment_amounts import AmountsOutOfOrder, PaymentAmounts
from domain.payment_authentication import Authentication
from domain.payment_risk import PaymentRisk
from domain.payment_times import PaymentTimes
from domain.risk import ReviewOutcome, RiskAssessment, RiskDecision, RiskReview
from domain.settlement import Settlement

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def test_a_new_payment_has_nothing_authorized_captured_or_refunded() -> None:
    amounts = PaymentAmounts.of(eur(1000))
    assert (amounts.authorized, amounts.captured, amounts.refunded) == (eur(0),) * 3
    assert amounts.captured_settlement == amounts.refunded_settlement == eur(0)
    assert amounts.currency == "EUR"


def test_settlement_amounts_are_in_the_settlement_currency() -> None:
    amounts = PaymentAmounts.of(eur(1000), "USD")
    assert amounts.captured_settlement == Money(0, "USD")
    assert amounts.settled_in("GBP").refunded_settlement == Money(0, "GBP")


def test_the_lifecycle_keeps_the_amounts_in_order() -> None:
    amounts = PaymentAmounts.of(eur(1000), "USD").authorize(eur(1000))
    amounts = amounts.capture(eur(600), Money(650, "USD"))
    assert amounts.refundable(eur(100)) == eur(500)
    amounts = amounts.refund(eur(200), Money(216, "USD"))
    assert (amounts.refunded, amounts.refunded_settlement) == (eur(200), Money(216, "USD"))
    assert not amounts.fully_refunded
    assert amounts.refund(eur(400), Money(434, "USD")).fully_refunded


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a.authorize(eur(1001)),  # more than the amount
        lambda a: a.authorize(eur(100)).capture(eur(101), eur(101)),  # more than authorized
        lambda a: a.authorize(eur(100)).capture(eur(50), eur(50)).refund(eur(51), eur(1)),
        lambda a: a.authorize(eur(-1)),
        lambda a: a.authorize(eur(100)).capture(eur(50), eur(50)).refund(eur(10), eur(60)),
    ],
)
def test_a_change_that_breaks_the_order_is_refused(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AmountsOutOfOrder):
        change(PaymentAmounts.of(eur(1000)))


def test_an_amount_in_another_currency_is_refused() -> None:
    amounts = PaymentAmounts.of(eur(1000))
    with pytest.raises(CurrencyMismatch):
        amounts.authorize(Money(1000, "USD"))
    captured = amounts.authorize(eur(1000)).capture(eur(1000), eur(1000))
    with pytest.raises(CurrencyMismatch):
        captured.refund(Money(10, "USD"), eur(10))
    with pytest.raises(CurrencyMismatch):
        captured.refund(eur(10), Money(10, "USD"))
    with pytest.raises(CurrencyMismatch):
        captured.refundable(Money(0, "USD"))


def test_money_arithmetic_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        eur(1) + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        eur(1) - Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = eur(1) < Money(2, "USD")


def test_the_settlement_currency_cannot_change_after_a_capture() -> None:
    captured = PaymentAmounts.of(eur(10)).authorize(eur(10)).capture(eur(10), eur(10))
    with pytest.raises(AmountsOutOfOrder):
        captured.settled_in("USD")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_sequence_of_valid_changes_keeps_the_order(data: st.DataObject) -> None:
    total = data.draw(st.integers(1, 10**12), label="amount")
    amounts = PaymentAmounts.of(eur(total)).authorize(eur(total))
    captured = data.draw(st.integers(1, total), label="captured")
    amounts = amounts.capture(eur(captured), eur(captured))
    while not amounts.fully_refunded:
        left = amounts.refundable(eur(0)).amount_minor
        refund = data.draw(st.integers(1, left), label="refund")
        amounts = amounts.refund(eur(refund), eur(refund))
        assert eur(0) <= amounts.refunded <= amounts.captured <= amounts.authorized
        assert amounts.authorized <= amounts.amount
    assert amounts.refunded == amounts.captured == eur(captured)


def test_a_capture_takes_what_is_authorized_at_most() -> None:
    amounts = PaymentAmounts.of(eur(1000)).authorize(eur(800))
    assert amounts.to_capture(None, "p") == eur(800)
    assert amounts.to_capture(300, "p") == eur(300)
    for wrong in (0, -5, 801):
        with pytest.raises(AmountExceedsCapturable) as caught:
            amounts.to_capture(wrong, "p")
        assert caught.value.metadata["capturable_amount_minor"] == "800"


def test_a_refund_takes_what_is_refundable_at_most_open_refunds_included() -> None:
    amounts = PaymentAmounts.of(eur(1000)).authorize(eur(1000)).capture(eur(600), eur(600))
    amounts = amounts.refund(eur(100), eur(100))
    assert amounts.to_refund(None, eur(200), "p") == eur(300)
    with pytest.raises(AmountExceedsRefundable) as caught:
        amounts.to_refund(301, eur(200), "p")
    assert caught.value.metadata["refundable_amount_minor"] == "300"
    with pytest.raises(AmountExceedsRefundable):
        amounts.to_refund(0, eur(0), "p")


def test_a_void_releases_the_authorization_or_else_the_amount() -> None:
    amounts = PaymentAmounts.of(eur(1000))
    assert amounts.voidable == eur(1000)
    assert amounts.authorize(eur(1000)).voidable == eur(1000)


def test_settlements_go_through_the_settlement_value() -> None:
    rate = Settlement("USD", Decimal("1.1"), "admin", NOW, presentment_exponent=2, exponent=2)
    amounts = PaymentAmounts.of(eur(1000), "USD").authorize(eur(1000))
    captured = amounts.capture_settlement(rate, eur(1000))
    assert captured == Money(1100, "USD")
    amounts = amounts.capture(eur(1000), captured)
    assert amounts.refund_settlement(rate, eur(1000)) == Money(1100, "USD")
    with pytest.raises(CurrencyMismatch):
        amounts.refund(eur(10), Money(11, "GBP"))


# --- the other value objects of the aggregate ------------------------------------------------
def test_a_new_assessment_forgets_the_review_of_an_earlier_one() -> None:
    first = RiskAssessment(RiskDecision.REVIEW, ("AMOUNT_OVER_REVIEW_LIMIT",), NOW)
    approved = RiskReview(ReviewOutcome.APPROVED, "admin", "known customer", NOW)
    risk = PaymentRisk().assessed(first).reviewed(approved, "p", PaymentStatus.UNDER_REVIEW)
    assert risk.approved and not risk.rejected
    again = risk.assessed(RiskAssessment(RiskDecision.ALLOW, (), NOW))
    assert again.review is None and not again.approved


def test_a_review_needs_a_payment_under_review_and_a_rejection_sticks() -> None:
    rejected = RiskReview(ReviewOutcome.REJECTED, "admin", "stolen card", NOW)
    with pytest.raises(PaymentNotUnderReview):
        PaymentRisk().reviewed(rejected, "p", PaymentStatus.PENDING)
    risk = PaymentRisk().reviewed(rejected, "p", PaymentStatus.UNDER_REVIEW)
    with pytest.raises(InvalidStateTransition):
        risk.require_not_rejected("p", PaymentStatus.FAILED)


def test_an_unknown_liability_shift_keeps_what_was_known() -> None:
    auth = Authentication("https://shop.example/r", ScaExemption.MERCHANT_INITIATED)
    assert auth.concluded(None) is auth
    shifted = auth.concluded(True)
    assert (shifted.liability_shift, shifted.return_url) == (True, "https://shop.example/r")
    assert shifted.concluded(None).liability_shift is True
    assert shifted.concluded(False).liability_shift is False


def test_times_are_a_value() -> None:
    times = PaymentTimes(authorized_at=NOW)
    assert times == PaymentTimes(authorized_at=NOW) and times.captured_at is None
    with pytest.raises(AttributeError):
        times.captured_at = NOW  # type: ignore[misc]
