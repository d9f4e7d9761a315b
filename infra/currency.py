"""Currencies from CLDR (Babel): which ISO 4217 codes are legal tender today, and their
minor-unit exponents. Maintained data, not a hand-typed table."""

from __future__ import annotations

from babel.core import get_global
from babel.numbers import get_currency_precision


class CldrCurrencyCatalog:
    """Accepts currencies that some territory uses as tender now (EUR, JPY, KWD ...), and
    rejects historic, fund and test codes (DEM, CLF, XTS)."""

    def __init__(self) -> None:
        active: dict[str, int] = {}
        for currencies in get_global("territory_currencies").values():
            for code, _start, end, tender in currencies:
                if tender and end is None:
                    active[code] = get_currency_precision(code)
        self._exponents = active

    def exponent(self, code: str) -> int | None:
        return self._exponents.get(code)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._exponents)
