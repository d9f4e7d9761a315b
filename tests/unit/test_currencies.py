"""Minor units come from ISO 4217 (list one), never from CLDR display precision: a release of
a data package must not change what an amount means without a test failing here."""

from __future__ import annotations

import datetime

import pytest

from domain.money import Money
from infra.currency import Iso4217CurrencyCatalog, iso4217_catalog
from infra.gateways.stripe_amounts import from_stripe_minor, stripe_amount

# The ISO 4217 minor units the issue pins, including where CLDR disagrees (IQD: 0 in CLDR;
# HUF: 0 in CLDR since Babel 2.19; RSD: 0 in CLDR before it).
PINNED = {
    "JPY": 0, "EUR": 2, "HUF": 2, "RSD": 2, "ISK": 0, "KWD": 3, "IQD": 3, "CLP": 0,
    "BHD": 3, "JOD": 3, "LYD": 3, "OMR": 3, "TND": 3, "TWD": 2, "UGX": 0, "KRW": 0, "USD": 2,
}  # fmt: skip
# 165 codes in list one with minor units, less 8 funds and UYW.
ACCEPTED_COUNT = 156


@pytest.fixture(scope="module")
def catalog() -> Iso4217CurrencyCatalog:
    return Iso4217CurrencyCatalog()


@pytest.mark.parametrize(("code", "minor_units"), sorted(PINNED.items()))
def test_minor_units_are_iso_4217s(
    catalog: Iso4217CurrencyCatalog, code: str, minor_units: int
) -> None:
    assert catalog.exponent(code) == minor_units


def test_the_number_of_accepted_currencies_is_pinned(catalog: Iso4217CurrencyCatalog) -> None:
    assert len(catalog.codes) == ACCEPTED_COUNT


@pytest.mark.parametrize(
    "code",
    [
        "CLF", "BOV", "CHE", "CHW", "COU", "MXV", "USN", "UYI",  # funds
        "XTS", "XXX",  # test code, no currency
        "XAU", "XAG", "XPT", "XPD", "XBA", "XDR", "XSU", "XUA",  # metals, units of account
        "UYW",  # a wage index, not a means of payment
        "DEM", "FRF", "HRK", "SLL", "ZWL",  # historic
        "eur", "", "EURO",
    ],
)  # fmt: skip
def test_funds_test_and_historic_codes_are_refused(
    catalog: Iso4217CurrencyCatalog, code: str
) -> None:
    assert catalog.exponent(code) is None
    assert code not in catalog.codes


def test_the_catalog_names_its_publication(catalog: Iso4217CurrencyCatalog) -> None:
    # The pinned package's list; a newer list is a deliberate `make lock` and fails above.
    assert catalog.published == datetime.date(2026, 1, 1)


def test_the_catalog_is_parsed_once_per_process() -> None:
    assert iso4217_catalog() is iso4217_catalog()


@pytest.mark.parametrize(
    ("money", "stripe"),
    [
        (Money(150000, "HUF"), 150000),
        (Money(500, "ISK"), 50000),
        (Money(1230, "IQD"), 123),
        (Money(5120, "KWD"), 5120),
        (Money(1000, "JPY"), 1000),
    ],
)
def test_stripe_amounts_convert_back_to_iso_minor_units(money: Money, stripe: int) -> None:
    assert stripe_amount(money) == stripe
    assert from_stripe_minor(stripe, money.currency) == money.amount_minor


def test_an_amount_from_stripe_in_an_unknown_currency_is_not_guessed() -> None:
    assert from_stripe_minor(100, "XTS") is None
