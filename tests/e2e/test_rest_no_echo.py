"""The REST shim's own 400 answers (malformed JSON, wrong types, unknown names) never repeat a
value of the request: json_format's messages would (a card number sent as a number, say)."""

from __future__ import annotations

import json

import httpx
import pytest

from domain.validation import contains_card_number
from tests.e2e.helpers import new_id

PAYMENTS = "/api/v1/payments"
JSON = {"content-type": "application/json"}
SECRET = "Zq7SecretValue"  # a value that is no card number: the messages must not echo it


def _payment(**overrides: object) -> bytes:
    body = {
        "order_id": new_id(),
        "user_id": new_id(),
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
    } | overrides
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_payment(description=4242424242424242), "description"),  # a number for a string
        (_payment(amount_minor=42424242424242424242), "amount_minor"),  # out of int64
        (_payment(amount_minor=f"{SECRET}4242"), "amount_minor"),
        (_payment(payment_method_type=SECRET), "payment_method_type"),  # no such enum value
        (_payment(metadata={"k": 4242424242424242}), "metadata"),
        (_payment(metadata=[SECRET]), "metadata"),
        (_payment(authorize=SECRET), "authorize"),
        (_payment(**{SECRET + "-x": 1}), "unknown field"),  # not an identifier: not repeated
        (b'{"description": "4242424242424242', "malformed JSON"),  # unterminated
        (b'{"description": ' + SECRET.encode() + b"}", "malformed JSON"),
    ],
)
async def test_body_errors_name_the_field_but_not_the_value(
    rest_client: httpx.AsyncClient, body: bytes, named: str
) -> None:
    response = await rest_client.post(PAYMENTS, content=body, headers=JSON)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert named in message
    assert SECRET not in response.text
    assert not contains_card_number(response.text)
    assert "4242" not in message


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page_size": f"{SECRET}"}, "page_size"),
        ({f"x-{SECRET}": "1"}, "unknown query parameter"),
    ],
)
async def test_query_errors_name_the_parameter_but_not_the_value(
    rest_client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    response = await rest_client.get(f"{PAYMENTS}/{new_id()}/refunds", params=params)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    assert SECRET not in response.text
