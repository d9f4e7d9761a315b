"""Amounts as Stripe counts them.

Stripe takes the currency's minor unit like our `Money`, except where its own rules differ
from ISO 4217 (docs.stripe.com/currencies): ISK is counted in hundredths (ISO exponent 0), a
few currencies that ISO gives decimals are zero-decimal, and three-decimal currencies are
taken only in multiples of ten.
"""

from __future__ import annotations

from babel.numbers import get_currency_precision

from domain.gateway import GatewayOutcome
from domain.money import Money

ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"]
)  # fmt: skip
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def stripe_exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def stripe_amount(money: Money) -> int | None:
    """Stripe's integer for `money`, or None when Stripe cannot take it exactly."""
    ours, theirs = int(get_currency_precision(money.currency)), stripe_exponent(money.currency)
    amount: int
    if ours <= theirs:
        amount = money.amount_minor * 10 ** (theirs - ours)
    else:
        amount, rest = divmod(money.amount_minor, 10 ** (ours - theirs))
        if rest:
            return None
    if money.currency in THREE_DECIMAL and amount % 10:
        return None
    return amount


def inexact(money: Money) -> GatewayOutcome:
    """The answer for an amount Stripe cannot take: refused before sending anything."""
    return GatewayOutcome.declined(
        "AMOUNT_NOT_SUPPORTED", f"Stripe cannot take {money} exactly ({money.currency} rules)."
    )
