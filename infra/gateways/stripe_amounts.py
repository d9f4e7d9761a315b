"""Amounts as Stripe counts them, converted from and to ISO 4217 minor units.

Stripe's rules (docs.stripe.com/currencies, "Minor units in API amounts" and "Special cases"):
- Every amount is an integer of the currency's smallest unit, two decimals unless listed below.
- Zero-decimal currencies (JPY, KRW, CLP, UGX, …) are counted in whole units.
- Three-decimal currencies (BHD, JOD, KWD, OMR, TND) are counted in thousandths, but the last
  digit must be 0: 5.124 KWD cannot be charged, 5.120 KWD is 5120.
- ISK stays two-decimal in the API for backwards compatibility although it is charged in
  whole krónur only (amounts must be divisible by 100): ISK has no decimals in ISO 4217, so
  our 500 ISK becomes 50000 and always divides evenly.
- HUF and TWD are two-decimal for charges, as in ISO 4217 (their whole-unit rule applies to
  payouts only, which this service does not make).
- Any other currency is two-decimal at Stripe whatever ISO 4217 says: IQD and LYD have three
  decimals in ISO 4217, so 1.234 IQD (1234 minor units) cannot be sent, 1.230 IQD goes as 123.
An amount Stripe cannot take exactly is refused before any call (`inexact`).
"""

from __future__ import annotations

from decimal import Decimal

from domain.gateway import GatewayOutcome
from domain.money import Money
from infra.currency import iso_exponent

ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"]
)  # fmt: skip
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# Three-decimal amounts must end in 0 (a multiple of ten thousandths).
THREE_DECIMAL_STEP = 10


def stripe_exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def stripe_amount(money: Money) -> int | None:
    """Stripe's integer for `money`, or None when Stripe cannot take it exactly."""
    ours = iso_exponent(money.currency)
    if ours is None:
        return None
    theirs = stripe_exponent(money.currency)
    amount: int
    if ours <= theirs:
        amount = money.amount_minor * 10 ** (theirs - ours)
    else:
        amount, rest = divmod(money.amount_minor, 10 ** (ours - theirs))
        if rest:
            return None
    if money.currency in THREE_DECIMAL and amount % THREE_DECIMAL_STEP:
        return None
    return amount


def from_stripe_minor(amount: int | None, currency: str | None) -> int | None:
    """Stripe's integer in ISO 4217 minor units (the inverse of stripe_amount); None for a
    currency ISO 4217 does not list."""
    if amount is None or not currency:
        return amount
    ours = iso_exponent(currency)
    if ours is None:
        return None
    theirs = stripe_exponent(currency)
    scale: int = 10 ** abs(ours - theirs)
    # Stripe counts finer than ISO only for ISK, whose Stripe amounts divide by 100.
    return amount * scale if ours >= theirs else amount // scale


def inexact(money: Money) -> GatewayOutcome:
    """The answer for an amount Stripe cannot take: refused before sending anything."""
    if iso_exponent(money.currency) is None:
        reason = f"{money.currency} is not an ISO 4217 currency in use"
    elif money.currency in THREE_DECIMAL:
        reason = f"Stripe takes {money.currency} in multiples of 0.010 only"
    else:
        step = Decimal(1).scaleb(-stripe_exponent(money.currency))
        reason = f"Stripe takes {money.currency} in steps of {step} only"
    return GatewayOutcome.declined("AMOUNT_NOT_SUPPORTED", f"{reason}; {money} cannot be sent.")
