"""PaymentAmounts: every amount a Money, kept in order, refusing mixed currencies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import CurrencyMismatch
from domain.money import Money
from domain.payment_amounts import AmountsOutOfOrder, PaymentAmounts


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
