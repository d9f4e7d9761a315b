"""domain/fx.py: rates, conversion and rounding, cross rates, which rate a pair uses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, getcontext, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import FxQuoteExpired, FxRateUnavailable, ValidationFailed
from domain.fx import (
    RATE_DIGITS,
    ExchangeRate,
    apply_markup,
    convert_minor,
    cross,
    format_rate,
    parse_rate,
    quote,
    resolve,
)
from domain.money import MAX_AMOUNT_MINOR

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MAX_AGE = timedelta(days=4)

# Positive rates with at most RATE_DIGITS significant digits, from 1e-6 to 1e6.
rates = st.integers(1, 10**RATE_DIGITS - 1).flatmap(
    lambda digits: st.integers(-5 - len(str(digits)), 6 - len(str(digits))).map(
        lambda exponent: Decimal(digits).scaleb(exponent)
    )
)
exponents = st.sampled_from([0, 2, 3])


def _rate(
    base: str, quote_: str, value: str, source: str = "ecb", age: timedelta = DAY
) -> ExchangeRate:
    return ExchangeRate(base, quote_, Decimal(value), source, NOW - age, NOW - age)


def _store(*stored: ExchangeRate):  # type: ignore[no-untyped-def]
    async def rates_of(base: str, quote_: str) -> Sequence[ExchangeRate]:
        return [r for r in stored if (r.base, r.quote) == (base, quote_)]

    return rates_of


def _resolve(stored: Sequence[ExchangeRate], base: str, quote_: str) -> ExchangeRate:
    return asyncio.run(resolve(_store(*stored), base, quote_, NOW, MAX_AGE))


def _half_even(value: Fraction) -> int:
    return round(value)  # Fraction.__round__ without digits rounds half to even


@given(st.integers(1, MAX_AMOUNT_MINOR // 10**6), rates, exponents, exponents)
def test_conversion_is_the_exact_product_rounded_half_even(
    amount: int, rate: Decimal, source_exp: int, target_exp: int
) -> None:
    expected = _half_even(
        Fraction(amount) * Fraction(rate) * Fraction(10) ** (target_exp - source_exp)
    )
    assert convert_minor(amount, rate, source_exp, target_exp) == expected


def test_conversion_rounds_ties_to_even() -> None:
    # 100.005 -> 100.00 and 100.015 -> 100.02 (EUR -> USD at 1, amounts in thousandths)
    assert convert_minor(100_005, Decimal(1), 3, 2) == 10_000
    assert convert_minor(100_015, Decimal(1), 3, 2) == 10_002
    # 100.00 EUR at 1.0842 is 108.42 USD; 1 JPY at 0.0061 is 0.01 EUR (0.0061 rounds up)
    assert convert_minor(10_000, Decimal("1.0842"), 2, 2) == 10_842
    assert convert_minor(1, Decimal("0.0061"), 0, 2) == 1
    # IQD/KWD have three decimals
    assert convert_minor(1_234, Decimal(2), 3, 2) == 247  # 2.468 -> 2.47


def test_conversion_ignores_the_global_decimal_context() -> None:
    with localcontext() as ctx:
        ctx.prec = 3
        assert getcontext().prec == 3
        assert (
            convert_minor(123_456_789, Decimal("1.23456789"), 2, 2) == 152_415_788
        )  # 1524157.8750190521


@given(rates, rates)
def test_cross_rate_is_the_quotient_to_rate_digits(eur_base: Decimal, eur_quote: Decimal) -> None:
    crossed = cross(
        _rate("EUR", "USD", str(eur_base)), _rate("EUR", "GBP", str(eur_quote)), "USD", "GBP"
    )
    exact = Fraction(eur_quote) / Fraction(eur_base)
    assert len(crossed.rate.as_tuple().digits) <= RATE_DIGITS
    # 18 significant digits, half-even: within half a unit of the last digit kept
    assert abs(Fraction(crossed.rate) - exact) <= exact / 10 ** (RATE_DIGITS - 1)
    assert crossed.source == "cross:ecb"


@given(rates)
def test_a_currency_crossed_with_itself_through_eur_is_one(rate: Decimal) -> None:
    leg = _rate("EUR", "USD", str(rate))
    assert cross(leg, leg, "USD", "USD").rate == 1


def test_the_pairs_own_rate_comes_before_a_cross_rate() -> None:
    stored = [
        _rate("EUR", "USD", "1.08"),
        _rate("EUR", "GBP", "0.85"),
        _rate("USD", "GBP", "0.79", source="admin"),
    ]
    assert _resolve(stored, "USD", "GBP").rate == Decimal("0.79")
    crossed = _resolve(stored[:2], "USD", "GBP")
    assert crossed.rate == Decimal("0.787037037037037037")
    assert crossed.source == "cross:ecb"
    assert crossed.as_of == NOW - DAY


def test_a_stored_inverse_rate_is_inverted() -> None:
    found = _resolve([_rate("USD", "EUR", "0.8", source="admin")], "EUR", "USD")
    assert (found.base, found.quote, found.rate, found.source) == (
        "EUR",
        "USD",
        Decimal("1.25"),
        "admin",
    )


def test_the_newer_rate_wins_and_the_admin_at_the_same_time() -> None:
    feed = _rate("EUR", "USD", "1.08", age=DAY)
    older_admin = _rate("EUR", "USD", "1.10", source="admin", age=2 * DAY)
    newer_admin = _rate("EUR", "USD", "1.10", source="admin", age=DAY / 2)
    same_time_admin = _rate("EUR", "USD", "1.09", source="admin", age=DAY)
    assert _resolve([feed, older_admin], "EUR", "USD").source == "ecb"
    assert _resolve([feed, newer_admin], "EUR", "USD").source == "admin"
    assert _resolve([feed, same_time_admin], "EUR", "USD").rate == Decimal("1.09")


def test_a_stale_rate_is_refused() -> None:
    stale = _rate("EUR", "USD", "1.08", age=MAX_AGE + timedelta(seconds=1))
    with pytest.raises(FxRateUnavailable, match="older than the maximum age") as raised:
        _resolve([stale], "EUR", "USD")
    assert raised.value.reason == "FX_RATE_UNAVAILABLE"
    # A cross rate with one stale leg is refused too
    with pytest.raises(FxRateUnavailable):
        _resolve([stale, _rate("EUR", "GBP", "0.85")], "USD", "GBP")
    # Exactly at the maximum age it is still used
    assert _resolve([_rate("EUR", "USD", "1.08", age=MAX_AGE)], "EUR", "USD").rate == Decimal(
        "1.08"
    )


def test_no_rate_at_all() -> None:
    with pytest.raises(FxRateUnavailable, match="no rate is known"):
        _resolve([], "EUR", "USD")
    assert _resolve([], "USD", "USD").rate == 1


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1.0842", True),
        ("160", True),
        ("0.000001", True),
        ("", False),
        ("0", False),
        ("-1.2", False),
        ("1e3", False),
        ("NaN", False),
        ("Infinity", False),
        ("1,2", False),
        ("1.2.3", False),
        (" 1.2", False),
        ("1.0000000000000000001", False),  # 20 significant digits
    ],
)
def test_parse_rate(text: str, ok: bool) -> None:
    value, violations = parse_rate("rate", text)
    assert (value is not None, not violations) == (ok, ok)
    if not ok:
        assert violations[0].field == "rate"


def test_format_rate_is_plain() -> None:
    assert format_rate(Decimal("160.000")) == "160"
    assert format_rate(Decimal("1.08420")) == "1.0842"
    assert format_rate(Decimal("0.0000012")) == "0.0000012"


def test_markup_is_taken_off_the_mid_rate() -> None:
    assert apply_markup(Decimal("1.0842"), 50) == Decimal("1.078779")
    assert apply_markup(Decimal("1.0842"), 0) == Decimal("1.0842")


@given(rates, st.integers(0, 5_000))
def test_markup_never_gives_more(rate: Decimal, bps: int) -> None:
    marked = apply_markup(rate, bps)
    assert 0 < marked <= rate


def test_a_quote_locks_the_rate_until_it_expires() -> None:
    mid = _rate("EUR", "USD", "1.0842")
    fx_quote = quote(
        quote_id="q",
        owner="merchant",
        rate=mid,
        source_amount_minor=10_000,
        source_exponent=2,
        target_exponent=2,
        markup_bps=50,
        now=NOW,
        ttl=timedelta(minutes=10),
    )
    assert (fx_quote.target_amount_minor, fx_quote.rate, fx_quote.mid_rate) == (
        10_788,  # 107.8779 -> 107.88
        Decimal("1.078779"),
        Decimal("1.0842"),
    )
    assert fx_quote.expire_time == NOW + timedelta(minutes=10)
    fx_quote.ensure_usable(NOW + timedelta(minutes=10) - timedelta(microseconds=1))
    with pytest.raises(FxQuoteExpired) as raised:
        fx_quote.ensure_usable(NOW + timedelta(minutes=10))
    assert raised.value.reason == "FX_QUOTE_EXPIRED"


def test_a_quote_that_would_overflow_is_refused() -> None:
    with pytest.raises(ValidationFailed) as raised:
        quote(
            quote_id="q",
            owner="m",
            rate=_rate("EUR", "JPY", "160"),
            source_amount_minor=MAX_AMOUNT_MINOR,
            source_exponent=2,
            target_exponent=0,
            markup_bps=0,
            now=NOW,
            ttl=timedelta(minutes=1),
        )
    assert raised.value.violations[0].field == "source_amount_minor"
