from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.money import MAX_AMOUNT_MINOR
from domain.validation import (
    MAX_METADATA_KEY,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE,
    check_metadata,
    check_text,
    check_token,
    contains_card_number,
    luhn_valid,
    require_amount,
    require_currency_code,
    require_uuid,
)

PROPERTY = settings(max_examples=150, deadline=None)

TEST_PANS = [
    "4242424242424242",  # Visa
    "4000056655665556",  # Visa debit
    "5555555555554444",  # Mastercard
    "378282246310005",  # Amex, 15 digits
    "6011111111111117",  # Discover
    "4000002760003184",  # 3-D Secure test card
]


def check_digit(payload: str) -> str:
    """The Luhn digit that makes payload + digit valid, computed independently of luhn_valid."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str(-total % 10)


# --- Luhn ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pan", [*TEST_PANS, "79927398713"])
def test_luhn_accepts_valid_numbers(pan: str) -> None:
    assert luhn_valid(pan)


@pytest.mark.parametrize("number", ["4242424242424241", "4000056655665557", "79927398710", "1"])
def test_luhn_rejects_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=12, max_size=18), st.data())
def test_luhn_catches_every_single_digit_error(payload: str, data: st.DataObject) -> None:
    number = payload + check_digit(payload)
    assert luhn_valid(number)
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    assert not luhn_valid(number[:position] + wrong + number[position + 1 :])


# --- card numbers in free text ---------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4000 0566 5566 5556",
        "5555-5555-5555-4444",
        "3782 822463 10005",
        "my card is 4242424242424242, thanks",
        "card:4242-4242-4242-4242;",
        # A card number next to other digits, as people type it.
        "4242 4242 4242 4242 123",  # followed by the CVC
        "4242424242424242 12/30",  # followed by the expiry
        "qty 2 5555 5555 5555 4444",
    ],
)
def test_card_numbers_are_detected(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # 16 digits, fails Luhn
        "4242 4242 4242 4241",
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: too long to be a PAN
        "12345",
        "order 2025-03-01 #1234",
        "pm_card_visa",
        "",
        "4242 4242",
        "123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_other_text_is_not_a_card_number(text: str) -> None:
    assert not contains_card_number(text)


@PROPERTY
@given(
    st.text(alphabet="0123456789", min_size=12, max_size=18),
    st.sampled_from(["", " ", "-"]),
    st.text(alphabet="abcxyz .,:", max_size=10),
    st.text(alphabet="abcxyz .,:", max_size=10),
)
def test_any_luhn_valid_pan_is_detected_however_grouped(
    payload: str, separator: str, before: str, after: str
) -> None:
    pan = payload + check_digit(payload)
    grouped = separator.join(pan[i : i + 4] for i in range(0, len(pan), 4))
    assert contains_card_number(f"{before} {grouped} {after}")


@PROPERTY
@given(st.text(alphabet="0123456789 -", max_size=15))
def test_fewer_than_13_digits_are_never_a_card_number(text: str) -> None:
    if sum(c.isdigit() for c in text) < 13:
        assert not contains_card_number(text)


# --- individual fields -----------------------------------------------------------------------
def test_require_uuid() -> None:
    valid = str(uuid.UUID(int=42))
    assert require_uuid("payment_id", valid) == []
    assert require_uuid("payment_id", "", required=False) == []
    [missing] = require_uuid("payment_id", "")
    assert (missing.field, missing.reason) == ("payment_id", "REQUIRED")
    [bad] = require_uuid("payment_id", "pay_123")
    assert (bad.field, bad.reason) == ("payment_id", "INVALID_FIELD")
    assert "UUID" in bad.description


@pytest.mark.parametrize(
    ("value", "ok"),
    [(1, True), (MAX_AMOUNT_MINOR, True), (0, False), (-1, False), (MAX_AMOUNT_MINOR + 1, False)],
)
def test_require_amount(value: int, ok: bool) -> None:
    violations = require_amount("amount_minor", value)
    assert (violations == []) is ok
    assert all(v.field == "amount_minor" for v in violations)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("EUR", None), ("", "REQUIRED"), ("eur", "INVALID_FIELD"), ("EURO", "INVALID_FIELD"),
     ("EUR\n", "INVALID_FIELD"), ("E R", "INVALID_FIELD")],
)  # fmt: skip
def test_require_currency_code(value: str, reason: str | None) -> None:
    violations = require_currency_code("currency", value)
    assert [v.reason for v in violations] == ([reason] if reason else [])


@pytest.mark.parametrize("token", ["pm_card_visa", "tok_1Nv0", "PAYPAL-EC-8AB:12.x", "a" * 255])
def test_gateway_tokens_are_accepted(token: str) -> None:
    assert check_token("payment_method_token", token) == []


@pytest.mark.parametrize(
    "token", ["", "a" * 256, "pm card", "pm_card_visa\n", "pm_card_visa;drop", "tök"]
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    [violation] = check_token("payment_method_token", token)
    assert violation.field == "payment_method_token"
    assert violation.reason == "INVALID_FIELD"


@pytest.mark.parametrize("pan", ["4242424242424242", "4242-4242-4242-4242"])
def test_a_raw_card_number_as_token_is_refused_without_echoing_it(pan: str) -> None:
    [violation] = check_token("payment_method_token", pan)
    assert violation.reason == "RAW_CARD_DATA"
    assert "4242" not in violation.description + violation.field


def test_check_text_limits_length_and_refuses_card_numbers() -> None:
    assert check_text("description", "x" * 500, 500) == []
    [too_long] = check_text("description", "x" * 501, 500)
    assert too_long.field == "description"
    [card] = check_text("description", "pay with 4000 0566 5566 5556", 500)
    assert (card.field, card.reason) == ("description", "RAW_CARD_DATA")


# --- metadata --------------------------------------------------------------------------------
def test_metadata_at_the_limits_is_accepted() -> None:
    metadata = {f"k{i:0{MAX_METADATA_KEY - 1}d}": "v" * MAX_METADATA_VALUE for i in range(50)}
    assert len(metadata) == MAX_METADATA_KEYS
    assert all(len(key) == MAX_METADATA_KEY for key in metadata)
    assert check_metadata("metadata", metadata) == []


def test_too_many_metadata_keys() -> None:
    metadata = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS + 1)}
    [violation] = check_metadata("metadata", metadata)
    assert violation.field == "metadata"
    assert str(MAX_METADATA_KEYS) in violation.description


def test_each_bad_metadata_entry_is_reported() -> None:
    metadata = {
        "": "empty key",
        "k" * (MAX_METADATA_KEY + 1): "long key",
        "long_value": "v" * (MAX_METADATA_VALUE + 1),
        "card": "4242 4242 4242 4242",
        "fine": "ok",
    }
    violations = check_metadata("metadata", metadata)
    fields = [v.field for v in violations]
    assert fields == [
        "metadata[]",
        f"metadata[{'k' * (MAX_METADATA_KEY + 1)}]",
        "metadata[long_value]",
        "metadata[card]",
    ]
    assert violations[-1].reason == "RAW_CARD_DATA"
    assert all("4242" not in v.description for v in violations)


def test_a_card_number_as_metadata_key_is_refused_without_echoing_it() -> None:
    violations = check_metadata("metadata", {"4242424242424242": "x"})
    assert [v.reason for v in violations] == ["RAW_CARD_DATA"]
    assert all("4242" not in v.field + v.description for v in violations)
