"""The ListPayments filter parser (AIP-160 subset) and its page tokens."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.enums import GatewayName, PaymentMethodType, PaymentStatus
from domain.errors import ValidationFailed
from domain.pagination import MAX_PAGE_SIZE, Cursor
from domain.payment_filter import (
    Comparison,
    FilterField,
    Operator,
    PaymentFilter,
    parse_filter,
)
from domain.payment_listing import decode_token, encode_token, parse_order, payment_query

USER = "0b6d6f0e-1111-4111-8111-111111111111"


def test_the_documented_example_parses_into_typed_comparisons() -> None:
    parsed = parse_filter(f'user_id = "{USER}" AND status = "PAYMENT_STATUS_CAPTURED"')
    assert parsed == PaymentFilter(
        (
            Comparison(FilterField.USER_ID, Operator.EQ, USER),
            Comparison(FilterField.STATUS, Operator.EQ, PaymentStatus.CAPTURED),
        )
    )


def test_every_field_and_operator() -> None:
    parsed = parse_filter(
        "currency != JPY AND gateway = GATEWAY_STRIPE AND payment_method_type = PAYPAL"
        ' AND create_time >= "2026-12-01T00:00:00Z" AND create_time<"2026-12-02T01:00:00+01:00"'
        " AND status != FAILED"
    )
    assert parsed.comparisons == (
        Comparison(FilterField.CURRENCY, Operator.NE, "JPY"),
        Comparison(FilterField.GATEWAY, Operator.EQ, GatewayName.STRIPE),
        Comparison(FilterField.PAYMENT_METHOD_TYPE, Operator.EQ, PaymentMethodType.PAYPAL),
        Comparison(FilterField.CREATE_TIME, Operator.GE, datetime(2026, 12, 1, tzinfo=UTC)),
        Comparison(
            FilterField.CREATE_TIME,
            Operator.LT,
            datetime(2026, 12, 2, 1, tzinfo=timezone(timedelta(hours=1))),
        ),
        Comparison(FilterField.STATUS, Operator.NE, PaymentStatus.FAILED),
    )


def test_an_empty_filter_matches_everything() -> None:
    assert parse_filter("") == PaymentFilter()
    assert parse_filter("   ").matches({}) is True


def test_user_ids_are_canonicalised() -> None:
    parsed = parse_filter(f"user_id = {USER.upper()}")
    assert parsed.comparisons[0].value == USER


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount_minor = 5", 'unknown field "amount_minor"'),
        ("status > CAPTURED", "status does not support >"),
        ("user_id < x", "user_id does not support <"),
        ("status = SHIPPED", 'status has no value "SHIPPED"'),
        ("gateway = ADYEN", 'gateway has no value "ADYEN"'),
        ("user_id = 42", "user_id must be a UUID"),
        ("currency = eur", "currency must be an ISO 4217 code"),
        ("create_time > yesterday", "create_time must be an RFC 3339 timestamp"),
        ('create_time > "2026-12-01T00:00:00"', "with an offset"),
        ("status = CAPTURED OR status = FAILED", "OR is not supported"),
        ("NOT status = CAPTURED", "NOT is not supported"),
        ("(status = CAPTURED)", "parentheses are not supported"),
        ("status = CAPTURED currency = EUR", 'expected AND between comparisons, found "currency"'),
        ("status = CAPTURED AND", "ends with AND"),
        ("status =", "expected a value after status ="),
        ("status", "expected a comparison operator after status"),
        ('currency = "EUR', "unterminated string"),
        ("user_id:abc", "only comparisons"),
        ("status = CAPTURED AND " * 30 + "status = CAPTURED", "more than 20 comparisons"),
        ("currency = " + "A" * 3000, "longer than 2000 characters"),
        ('create_time < "0001-01-01T00:00:00+05:00"', "out of range"),
        ('create_time > "9999-12-31T23:59:59-05:00"', "out of range"),
    ],
)
def test_invalid_filters_name_the_problem_on_the_filter_field(text: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_filter(text)
    [violation] = raised.value.violations
    assert violation.field == "filter"
    assert problem in violation.description


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_as_invalid_never_crashes(text: str) -> None:
    try:
        parse_filter(text)
    except ValidationFailed as refused:
        assert [v.field for v in refused.violations] == ["filter"]


def test_the_canonical_form_ignores_order_and_spelling() -> None:
    a = parse_filter(f"status = PAYMENT_STATUS_CAPTURED AND user_id = {USER}")
    b = parse_filter(f'user_id="{USER.upper()}" AND status=CAPTURED')
    assert a.canonical() == b.canonical()


def test_order_by() -> None:
    assert parse_order("") is True
    assert parse_order("create_time desc") is True
    assert parse_order("  create_time   ASC ") is False
    with pytest.raises(ValidationFailed) as raised:
        parse_order("amount desc")
    assert raised.value.violations[0].field == "order_by"


CURSOR = Cursor(datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC), USER)
CAPTURED = parse_filter("status = CAPTURED")


def test_a_token_resumes_only_the_listing_it_was_made_for() -> None:
    token = encode_token(CURSOR, CAPTURED, True, "caller-a")
    assert decode_token(token, CAPTURED, True, "caller-a") == CURSOR
    for flt, descending, caller in [
        (parse_filter("status = FAILED"), True, "caller-a"),  # another filter
        (CAPTURED, False, "caller-a"),  # another order
        (CAPTURED, True, "caller-b"),  # another caller
    ]:
        with pytest.raises(ValidationFailed) as raised:
            decode_token(token, flt, descending, caller)
        assert raised.value.violations[0].field == "page_token"


def _forged(**fields: str) -> str:
    real = json.loads(base64.urlsafe_b64decode(encode_token(CURSOR, CAPTURED, True, "a") + "=="))
    raw = json.dumps(real | fields).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "fields",
    [{"t": "0001-01-01T00:00:00+05:00"}, {"t": "2026-12-01T00:00:00"}, {"i": "not-a-uuid"}],
)
def test_forged_cursors_the_database_could_not_take_are_invalid(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed):
        decode_token(_forged(**fields), CAPTURED, True, "a")


@pytest.mark.parametrize(
    "token", ["x", "e30", "not base64 !", encode_token(CURSOR, CAPTURED, True, "")[:-3]]
)
def test_garbage_tokens_are_invalid(token: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_token(token, CAPTURED, True, "caller-a")


def test_the_query_of_a_request() -> None:
    query = payment_query(10_000, "", "currency = EUR", "create_time asc", "me")
    assert (query.size, query.descending, query.after, query.only_user) == (
        MAX_PAGE_SIZE,
        False,
        None,
        None,
    )
    with pytest.raises(ValidationFailed) as raised:
        payment_query(-1, "", "", "", "me")
    assert raised.value.violations[0].field == "page_size"
