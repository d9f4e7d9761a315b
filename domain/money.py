"""Money as an integer count of the currency's minor unit (like Stripe and Hyperswitch).

No float ever touches an amount. Decimal conversion happens only at JSON edges, with the
currency's ISO 4217 minor unit supplied by a `CurrencyCatalog` (ISO 4217 list one, in infra).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import total_ordering

from domain.errors import CurrencyMismatch

# \Z, not $: "$" also matches before a trailing newline, which let "EUR\n" through.
CURRENCY_CODE = re.compile(r"^[A-Z]{3}\Z")

# Largest amount accepted in one payment: 15 significant digits keeps every amount exact in
# IEEE doubles too, should a downstream consumer parse our JSON numbers carelessly.
MAX_AMOUNT_MINOR = 999_999_999_999_999

# scaleb rounds to the context's precision (28 digits by default); money must never round.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise TypeError("amount_minor must be an int (minor units), never a float or bool")
        if not CURRENCY_CODE.match(self.currency):
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                metadata={"currency": self.currency, "other_currency": other.currency},
            )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    @property
    def is_positive(self) -> bool:
        return self.amount_minor > 0

    def to_decimal(self, exponent: int) -> Decimal:
        """Major units, exactly: 1099 EUR (exponent 2) -> Decimal('10.99')."""
        return Decimal(self.amount_minor).scaleb(-exponent, _EXACT)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str, exponent: int) -> Money:
        """Parse major units exactly; more decimals than the currency allows, or more than
        MAX_AMOUNT_MINOR, is an error."""
        if not value.is_finite():
            raise ValueError("amount must be finite")
        minor = value.scaleb(exponent, _EXACT)
        if minor != minor.to_integral_value():
            raise ValueError(f"{value} has more than {exponent} decimals for {currency}")
        # Bound before int(): int(Decimal("9E+999990")) alone burns half a minute of CPU.
        if not -MAX_AMOUNT_MINOR <= minor <= MAX_AMOUNT_MINOR:
            raise ValueError(f"amount exceeds {MAX_AMOUNT_MINOR} minor units of {currency}")
        return cls(int(minor), currency)

    def __str__(self) -> str:
        return f"{self.amount_minor} {self.currency} (minor units)"
