"""Currencies and their minor units from ISO 4217 itself: the SIX list one ("current
currency & funds") shipped by the `iso4217` package, pinned exactly in pyproject.toml and the
lock files, so that a registry release can never change what an amount means.

Minor units are ISO 4217's, not CLDR's display precision (Babel's `get_currency_precision`
says 0 for IQD, whose ISO minor unit is 3, and moved HUF from 2 to 0 in one release). Only
codes that pay for something are accepted:
- funds (`IsFund`: BOV, CHE, CHW, CLF, COU, MXV, USN, UYI) are refused;
- codes without minor units (metals XAU…, bond-market units XBA…, XDR, XSU, XUA, the test
  code XTS and XXX) are refused;
- UYW (Unidad Previsional) is a wage-index unit of account with 4 decimals, not a means of
  payment: refused.
Historic codes are not in list one at all.
"""

from __future__ import annotations

import datetime
from functools import cache

import iso4217

# Units of account that list one carries without marking them as funds.
UNITS_OF_ACCOUNT = frozenset({"UYW"})


def _minor_units() -> dict[str, int]:
    """Code -> minor units of every accepted currency."""
    accepted: dict[str, int] = {}
    for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry"):
        code, minor, name = entry.find("Ccy"), entry.find("CcyMnrUnts"), entry.find("CcyNm")
        if code is None or minor is None or name is None or not code.text or not minor.text:
            continue  # a territory with no universal currency (Antarctica)
        digits = minor.text.strip()
        if name.get("IsFund") == "true" or not digits.isdigit():
            continue
        if code.text in UNITS_OF_ACCOUNT:
            continue
        accepted[code.text] = int(digits)
    return accepted


class Iso4217CurrencyCatalog:
    """The `CurrencyCatalog` port: 1099 EUR is 10.99, 1099 JPY is 1099, 1099 KWD is 1.099."""

    def __init__(self) -> None:
        self._minor_units = _minor_units()

    def exponent(self, code: str) -> int | None:
        return self._minor_units.get(code)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._minor_units)

    @property
    def published(self) -> datetime.date:
        """The publication date of the ISO 4217 list this catalog holds."""
        published: datetime.date = iso4217.__published__
        return published


@cache
def iso4217_catalog() -> Iso4217CurrencyCatalog:
    """One parse of the ISO table per process: it is read-only reference data."""
    return Iso4217CurrencyCatalog()


def iso_exponent(code: str) -> int | None:
    return iso4217_catalog().exponent(code)
