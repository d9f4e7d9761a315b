"""Settlement: the currency a payment's money lands in for the merchant, and the rate that
converts the payment's (presentment) amounts into it.

The rate is locked when the payment is created (an FX quote's, or the rates' at that moment)
and every amount of the payment settles at it: the whole amount, the capture, the refunds.
One conversion rounds once, half-even, to the settlement currency's minor unit
(`domain.fx.convert_minor`). Refunds are settled cumulatively (`refund_settlement`): the
refunded total converted, less what earlier refunds settled, so the refunds of a payment
never settle more than its capture did and the refund that completes it gets exactly the
remainder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.fx import RateSource, convert_minor
from domain.money import Money

IDENTITY_RATE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Settlement:
    # ISO 4217 code of the settlement currency.
    currency: str
    # Settlement units one presentment unit buys, markup included (1 without conversion).
    rate: Decimal
    # Where the rate came from (domain.fx RateSource value, "cross:…", or "identity").
    source: str
    # When the rate was valid.
    as_of: datetime
    # ISO 4217 minor units of the presentment and the settlement currency.
    presentment_exponent: int = 0
    exponent: int = 0
    # Basis points taken off the mid rate (0 without conversion).
    markup_bps: int = 0
    # The quote whose rate this is, if the payment was created with one.
    fx_quote_id: str | None = None

    @classmethod
    def identity(cls, currency: str, now: datetime) -> Settlement:
        """Settled in the presentment currency itself: rate 1, no lookup."""
        return cls(currency, IDENTITY_RATE, RateSource.IDENTITY.value, now)

    def convert(self, amount: Money) -> Money:
        """A presentment amount in the settlement currency."""
        if amount.currency == self.currency:
            return amount
        minor = convert_minor(
            amount.amount_minor, self.rate, self.presentment_exponent, self.exponent
        )
        return Money(minor, self.currency)


def capture_settlement(settlement: Settlement, amount: Money, captured: Money) -> Money:
    """The settlement of a capture: the payment's settlement amount when all of it is
    captured (the same figure, by construction), else the captured amount converted."""
    return settlement.convert(amount if captured == amount else captured)


def refund_settlement(
    settlement: Settlement,
    *,
    captured: Money,
    captured_settlement: Money,
    refunded_before: Money,
    refunded_settlement_before: Money,
    refund: Money,
) -> Money:
    """The settlement of one refund of `refund` after `refunded_before` was refunded (and
    settled as `refunded_settlement_before`): the refunded total converted, capped at the
    captured settlement, less what was settled before - exactly the remainder when the
    refund completes the captured amount. Never negative; the sum of a payment's refund
    settlements never exceeds its captured settlement."""
    total = refunded_before + refund
    if total >= captured:
        reached = captured_settlement
    else:
        reached = min(settlement.convert(total), captured_settlement)
    share = reached - refunded_settlement_before
    return share if share.amount_minor > 0 else Money.zero(settlement.currency)
