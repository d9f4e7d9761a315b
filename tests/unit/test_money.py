from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import CurrencyMismatch
from domain.money import MAX_AMOUNT_MINOR, Money

PROPERTY = settings(max_examples=150, deadline=None)
# Builds test inputs without the default 28-digit rounding.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "GBP"]
# Sums of a few amounts stay exact far beyond MAX_AMOUNT_MINOR; test well past 28 digits,
# the default decimal precision, so silent rounding cannot hide.
amounts = st.integers(min_value=-(10**40), max_value=10**40)
currencies = st.sampled_from(CURRENCIES)
exponents = st.sampled_from([0, 2, 3])


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    currency = draw(currencies)
    return [Money(draw(amounts), currency) for _ in range(count)]


@PROPERTY
@given(same_currency(3))
def test_addition_is_associative_and_commutative(moneys: list[Money]) -> None:
    a, b, c = moneys
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert (a + b).amount_minor == a.amount_minor + b.amount_minor


@PROPERTY
@given(same_currency(2))
def test_subtraction_is_the_inverse_of_addition(moneys: list[Money]) -> None:
    a, b = moneys
    assert (a + b) - b == a
    assert a - a == Money.zero(a.currency)
    assert a + Money.zero(a.currency) == a


@PROPERTY
@given(
    amounts, amounts, st.sampled_from([(x, y) for x in CURRENCIES for y in CURRENCIES if x != y])
)
def test_different_currencies_never_combine(a: int, b: int, pair: tuple[str, str]) -> None:
    left, right = Money(a, pair[0]), Money(b, pair[1])
    for combine in (
        lambda: left + right,
        lambda: left - right,
        lambda: left < right,
        lambda: left >= right,
    ):
        with pytest.raises(CurrencyMismatch) as caught:
            combine()
        assert caught.value.reason == "CURRENCY_MISMATCH"
        assert caught.value.metadata == {"currency": pair[0], "other_currency": pair[1]}
    assert left != right  # equality is defined: different currencies are different money


@pytest.mark.parametrize("amount", [10.0, 0.1, 1.5, True, False, Decimal("10"), "10", None])
def test_amount_must_be_an_int_of_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "E1R", "EUR\n", " EUR", "€"])
def test_currency_must_be_an_upper_case_iso_code(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, currency)


valid_amounts = st.integers(min_value=-MAX_AMOUNT_MINOR, max_value=MAX_AMOUNT_MINOR)


@PROPERTY
@given(amounts, currencies, exponents)
def test_to_decimal_is_exact(amount: int, currency: str, exponent: int) -> None:
    major = Money(amount, currency).to_decimal(exponent)
    assert Fraction(major) == Fraction(amount, 10**exponent)  # exact, not merely close


@PROPERTY
@given(valid_amounts, currencies, exponents)
def test_decimal_round_trip_is_exact(amount: int, currency: str, exponent: int) -> None:
    money = Money(amount, currency)
    assert Money.from_decimal(money.to_decimal(exponent), currency, exponent) == money


@PROPERTY
@given(valid_amounts, currencies, exponents)
def test_decimal_text_round_trip_through_json_like_strings(
    amount: int, currency: str, exponent: int
) -> None:
    text = str(Money(amount, currency).to_decimal(exponent))
    assert "E" not in text.upper()  # plain notation in JSON events for every valid amount
    assert Money.from_decimal(Decimal(text), currency, exponent).amount_minor == amount


@pytest.mark.parametrize(
    ("money", "exponent", "text"),
    [
        (Money(1099, "EUR"), 2, "10.99"),
        (Money(5, "EUR"), 2, "0.05"),
        (Money(-250, "USD"), 2, "-2.50"),
        (Money(500, "JPY"), 0, "500"),
        (Money(1234, "KWD"), 3, "1.234"),
        (Money(0, "KWD"), 3, "0.000"),
    ],
)
def test_to_decimal_known_values(money: Money, exponent: int, text: str) -> None:
    assert str(money.to_decimal(exponent)) == text


@pytest.mark.parametrize(
    ("value", "currency", "exponent", "minor"),
    [
        ("10.99", "EUR", 2, 1099),
        ("10.990", "EUR", 2, 1099),  # trailing zeros are not extra precision
        ("10", "EUR", 2, 1000),
        ("1E+2", "JPY", 0, 100),
        ("1.234", "KWD", 3, 1234),
        ("-0.00", "EUR", 2, 0),
    ],
)
def test_from_decimal_known_values(value: str, currency: str, exponent: int, minor: int) -> None:
    assert Money.from_decimal(Decimal(value), currency, exponent) == Money(minor, currency)


@PROPERTY
@given(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=1, max_value=6),
    currencies,
    exponents,
)
def test_from_decimal_rejects_more_decimals_than_the_currency_has(
    coefficient: int, extra: int, currency: str, exponent: int
) -> None:
    if coefficient % 10**extra == 0:
        coefficient += 1  # make sure a non-zero digit sits beyond the minor unit
    value = Decimal(coefficient).scaleb(-(exponent + extra), EXACT)
    with pytest.raises(ValueError, match="decimals"):
        Money.from_decimal(value, currency, exponent)


@pytest.mark.parametrize(
    ("value", "exponent"),
    [
        ("0.001", 2),
        ("10.5", 0),
        ("1.2345", 3),
        # 29 significant digits: the default context would round this to 1.00 EUR.
        ("1.0000000000000000000000000001", 2),
        # Below the default context's Etiny: it would underflow to 0 and be accepted.
        ("1E-999999999", 2),
    ],
)
def test_from_decimal_rejects_known_sub_minor_values(value: str, exponent: int) -> None:
    with pytest.raises(ValueError, match="decimals"):
        Money.from_decimal(Decimal(value), "EUR", exponent)


@pytest.mark.parametrize(
    ("value", "exponent"),
    [
        ("10000000000000.00", 2),  # MAX_AMOUNT_MINOR + 1 cent
        ("-10000000000000.00", 2),
        ("1000000000000000", 0),
        # Must be refused before it becomes an int with a million digits (CPU exhaustion).
        ("9E+999990", 2),
        ("1E+999999999", 3),
    ],
)
def test_from_decimal_rejects_amounts_beyond_the_maximum(value: str, exponent: int) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        Money.from_decimal(Decimal(value), "EUR", exponent)


def test_from_decimal_accepts_the_maximum() -> None:
    assert Money.from_decimal(Decimal("9999999999999.99"), "EUR", 2).amount_minor == (
        MAX_AMOUNT_MINOR
    )


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_decimal_rejects_non_finite_values(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        Money.from_decimal(Decimal(value), "EUR", 2)


@PROPERTY
@given(st.lists(amounts, min_size=1, max_size=8), currencies)
def test_ordering_follows_the_minor_amount(values: list[int], currency: str) -> None:
    moneys = [Money(v, currency) for v in values]
    assert [m.amount_minor for m in sorted(moneys)] == sorted(values)
    a, b = moneys[0], moneys[-1]
    assert (a < b) == (a.amount_minor < b.amount_minor)
    assert (a <= b) == (a.amount_minor <= b.amount_minor)
    assert (a > b) == (a.amount_minor > b.amount_minor)
    assert (a >= b) == (a.amount_minor >= b.amount_minor)
    assert max(moneys).amount_minor == max(values)


def test_is_positive_and_zero() -> None:
    assert Money(1, "EUR").is_positive
    assert not Money(0, "EUR").is_positive
    assert not Money(-1, "EUR").is_positive
    assert Money.zero("JPY") == Money(0, "JPY")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(100, "EUR")
    with pytest.raises(AttributeError):
        money.amount_minor = 5  # type: ignore[misc]
    assert len({Money(100, "EUR"), Money(100, "EUR"), Money(100, "USD")}) == 2
