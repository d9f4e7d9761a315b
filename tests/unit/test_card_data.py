"""Card data recognition in the domain: names of card fields, card numbers found and masked
in free text, ids that look numeric but are not card numbers."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.validation import (
    card_number_runs,
    contains_card_number,
    is_card_field_name,
    mask_card_numbers,
)


@pytest.mark.parametrize(
    "name",
    [
        "card_number", "cardNumber", "CardNumber", "card-number", "CARD_NUMBER", "cc_number",
        "card_no", "pan", "PAN", "cvc", "cvv", "cvv2", "CVV2", "cvc2", "csc", "security_code",
        "securityCode", "card_security_code", "card_verification_value",
        "primary_account_number", "track2", "track_data", "pin", "pin_block", "customer_cvc",
    ],
)  # fmt: skip
def test_names_of_card_data_are_recognised(name: str) -> None:
    assert is_card_field_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "payment_method_token", "payment_method_id", "request_id", "page_token", "description",
        "metadata", "company", "span", "expand", "pinned", "card_brand", "last4", "country",
        "return_url", "paypal_email", "order_id", "requested_by", "reason",
    ],
)  # fmt: skip
def test_ordinary_names_are_not_card_data(name: str) -> None:
    assert not is_card_field_name(name)


def test_masking_keeps_only_the_last_four_digits() -> None:
    text = "paid with 4242 4242 4242 4242 123 and 5555-5555-5555-4444, order 12"
    masked = mask_card_numbers(text)
    assert masked == "paid with ****4242 and ****4444, order 12"
    assert not contains_card_number(masked)
    assert mask_card_numbers(masked) == masked  # masking twice changes nothing more


def test_runs_say_where_the_card_number_is() -> None:
    text = "x 4000-0566-5566-5556 y"
    [run] = card_number_runs(text)
    assert text[run.start : run.end] == "4000-0566-5566-5556"
    assert run.last4 == "5556"


def test_text_without_card_numbers_is_left_alone() -> None:
    text = "rpc /payments.v1.PaymentService/CreatePayment OK 3.1ms amount 1099 2025-03-01"
    assert mask_card_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        # All-digit UUIDs whose first groups pass Luhn: ids, not card numbers.
        "11111111-1111-4111-8111-111111111111",
        "payment 11111111-1111-4111-8111-111111111111 captured",
    ],
)
def test_canonical_uuids_are_not_card_numbers(text: str) -> None:
    assert "1111111111114111" in text.replace("-", "")  # the Luhn-valid 16 digits are there
    assert not contains_card_number(text)
    assert mask_card_numbers(text) == text


def test_a_card_number_next_to_a_uuid_is_still_found() -> None:
    text = "11111111-1111-4111-8111-111111111111 4242424242424242"
    assert mask_card_numbers(text) == "11111111-1111-4111-8111-111111111111 ****4242"


@given(st.uuids())
def test_no_uuid_is_ever_a_card_number(value: uuid.UUID) -> None:
    assert not contains_card_number(str(value))
    assert not contains_card_number(str(value).upper())
