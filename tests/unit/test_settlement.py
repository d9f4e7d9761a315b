"""Settlement of a converted payment (domain/settlement.py): the capture at the payment's
rate, and refunds at the capture's rate, rounded so that the refunds never settle more than
the capture did - proved over random sequences of partial refunds, some declined."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import payment_reports as reports
from domain.enums import PaymentStatus, TransactionStatus, TransactionType
from domain.events import PaymentRefunded, PaymentSucceeded
from domain.fx import RateSource, convert_minor
from domain.gateway import GatewayOutcome
from domain.money import Money
from domain.payment import Payment
from domain.settlement import Settlement
from tests.unit.fakes import START, new_payment

OK = GatewayOutcome.succeeded("gw_ok")
DECLINED = GatewayOutcome.declined("CARD_DECLINED", "declined", "gw_no")
# (code, ISO 4217 minor unit): 0, 2 and 3 decimals.
CURRENCIES = [("JPY", 0), ("EUR", 2), ("USD", 2), ("HUF", 2), ("KWD", 3), ("IQD", 3)]


def settlement(target: tuple[str, int], source_exponent: int, rate: Decimal) -> Settlement:
    return Settlement(
        currency=target[0],
        rate=rate,
        source=RateSource.ADMIN.value,
        as_of=START,
        presentment_exponent=source_exponent,
        exponent=target[1],
        markup_bps=50,
    )


def captured_payment(
    amount: Money, settles: Settlement, capture_minor: int | None = None
) -> Payment:
    payment = new_payment(amount.amount_minor, amount.currency)
    payment.settle_in(settles)
    txn = payment.begin_authorization(transaction_id="auth", now=START)
    payment.record_authorization(txn.id, OK, START, "e-auth")
    txn = payment.begin_capture(transaction_id="cap", now=START, amount_minor=capture_minor)
    payment.record_capture(txn.id, OK, START, "e-cap")
    return payment


@st.composite
def converted_payments(draw: st.DrawFn) -> tuple[Payment, Money]:
    """A captured payment settled in another currency, and the settlement of its amount."""
    source, target = draw(
        st.lists(st.sampled_from(CURRENCIES), min_size=2, max_size=2, unique=True)
    )
    # From 1 JPY = 0.00001 KWD to 1 KWD = 600000 IQD and more; at most 18 digits, like a rate.
    rate = draw(st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(1_000_000), places=8))
    amount = draw(st.integers(1, 10**11))
    settles = settlement(target, source[1], rate)
    full = settles.convert(Money(amount, source[0]))
    capture = draw(st.none() | st.integers(1, amount))
    return captured_payment(Money(amount, source[0]), settles, capture), full


@settings(max_examples=400, deadline=None)
@given(converted_payments(), st.data())
def test_refunds_never_settle_more_than_the_capture(
    case: tuple[Payment, Money], data: st.DataObject
) -> None:
    payment, full = case
    captured_settlement = payment.amounts.captured_settlement.amount_minor
    assert captured_settlement <= full.amount_minor
    settled: list[int] = []
    step = 0
    while payment.refundable.amount_minor > 0 and step < 12:
        step += 1
        last = step == 12 or data.draw(st.booleans(), label="refund the rest")
        amount = (
            payment.refundable.amount_minor
            if last
            else data.draw(st.integers(1, payment.refundable.amount_minor), label="refund")
        )
        txn = payment.begin_refund(
            transaction_id=f"r{step}", refund_id=f"refund-{step}", now=START, amount_minor=amount
        )
        declined = data.draw(st.integers(0, 4), label="declined") == 0
        payment.record_refund(txn.id, DECLINED if declined else OK, START, f"e{step}")
        if declined:
            assert txn.settlement_amount is None
            continue
        assert txn.settlement_amount is not None
        share = txn.settlement_amount.amount_minor
        settled.append(share)
        assert share >= 0
        # Within one minor unit of converting the refund alone.
        alone = payment.settles.convert(txn.amount).amount_minor
        assert abs(share - alone) <= 1
        assert (
            sum(settled) == payment.amounts.refunded_settlement.amount_minor <= captured_settlement
        )
    if payment.amounts.refunded.amount_minor == payment.amounts.captured.amount_minor:
        assert payment.status is PaymentStatus.REFUNDED
        assert sum(settled) == captured_settlement  # the last refund took the remainder


def test_a_full_capture_settles_the_payments_settlement_amount() -> None:
    # 100.00 EUR at 1.078779 (EUR/USD 1.0842 less 50 bps) is 107.8779 USD: 107.88.
    settles = settlement(("USD", 2), 2, Decimal("1.078779"))
    payment = captured_payment(Money(10_000, "EUR"), settles)
    assert payment.settlement_amount == Money(10_788, "USD")
    assert payment.amounts.captured_settlement.amount_minor == 10_788
    capture = payment.transaction("cap")
    assert capture.settlement_amount == Money(10_788, "USD")
    event = payment.events[-1]
    assert isinstance(event, PaymentSucceeded)
    assert (event.settlement, event.exchange_rate) == (Money(10_788, "USD"), Decimal("1.078779"))


def test_a_partial_capture_settles_the_captured_amount() -> None:
    settles = settlement(("USD", 2), 2, Decimal("1.078779"))
    payment = captured_payment(Money(10_000, "EUR"), settles, capture_minor=5_000)
    # 50.00 EUR: 53.93895 USD, 53.94
    assert payment.amounts.captured_settlement.amount_minor == 5_394


def test_three_refunds_of_a_third_settle_the_capture_exactly() -> None:
    # 1.00 EUR at 1.015 is 1.015 USD, 1.02 half-even; each third alone would settle 0.33 or
    # 0.35, the three together must settle exactly the 1.02 captured.
    settles = settlement(("USD", 2), 2, Decimal("1.015"))
    payment = captured_payment(Money(100, "EUR"), settles)
    assert payment.amounts.captured_settlement.amount_minor == 102  # 1.015 -> 1.02 (half-even)
    shares = []
    for step, amount in enumerate((33, 33, 34)):
        txn = payment.begin_refund(
            transaction_id=f"r{step}", refund_id=f"f{step}", now=START, amount_minor=amount
        )
        payment.record_refund(txn.id, OK, START + timedelta(seconds=step), f"e{step}")
        assert txn.settlement_amount is not None
        shares.append(txn.settlement_amount.amount_minor)
    # 33 -> 33.495 -> 33; 66 -> 66.99 -> 67 (34 more); the last takes the remainder: 35
    assert shares == [33, 34, 35]
    assert (
        sum(shares)
        == payment.amounts.captured_settlement.amount_minor
        == payment.amounts.refunded_settlement.amount_minor
    )
    refunded = [e for e in payment.events if isinstance(e, PaymentRefunded)]
    assert [e.settlement for e in refunded] == [Money(s, "USD") for s in shares]


def test_without_conversion_the_amounts_are_the_settlement() -> None:
    payment = captured_payment(Money(1_099, "EUR"), Settlement.identity("EUR", START))
    txn = payment.begin_refund(transaction_id="r", refund_id="f", now=START, amount_minor=99)
    payment.record_refund(txn.id, OK, START, "e")
    assert payment.settles.rate == 1
    assert payment.settlement_amount == payment.amount
    assert (
        payment.amounts.captured_settlement.amount_minor,
        payment.amounts.refunded_settlement.amount_minor,
    ) == (1_099, 99)
    assert txn.settlement_amount == Money(99, "EUR")


def test_a_payment_without_settlement_settles_in_its_own_currency() -> None:
    """Payments written before revision 0019 have no settlement: rate 1, presentment currency."""
    payment = new_payment(500, "JPY")
    assert payment.settlement is None
    assert payment.settles == Settlement.identity("JPY", payment.created_at)
    assert payment.settlement_amount == Money(500, "JPY")


def test_conversion_rounds_once_half_even_to_the_target_minor_unit() -> None:
    settles = settlement(("JPY", 0), 2, Decimal("160.5"))
    # 0.01 EUR is 1.605 JPY: 2 yen; 0.03 EUR is 4.815: 5 yen
    assert settles.convert(Money(1, "EUR")) == Money(2, "JPY")
    assert settles.convert(Money(3, "EUR")) == Money(5, "JPY")
    assert convert_minor(1, Decimal("160.5"), 2, 0) == 2


def test_a_refund_reported_by_the_gateway_settles_like_any_other() -> None:
    settles = settlement(("USD", 2), 2, Decimal("1.015"))
    payment = captured_payment(Money(100, "EUR"), settles)
    txn = reports.refunded(
        payment,
        reference="re_1",
        amount_minor=100,
        now=START,
        transaction_id="wh",
        refund_id="f",
        event_id="e",
    )
    assert txn is not None
    assert txn.type is TransactionType.REFUND and txn.status is TransactionStatus.SUCCEEDED
    assert txn.settlement_amount == Money(102, "USD")
    assert payment.amounts.refunded_settlement.amount_minor == 102
