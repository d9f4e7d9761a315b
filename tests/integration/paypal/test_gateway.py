"""The PayPal adapter against the fake PayPal (a real HTTP server on loopback that follows
PayPal's documented shapes): the order lifecycle, PayPal-Request-Id idempotency and exact
decimal amounts. Failures and lookups: test_paypal_failures.py; tokens: test_paypal_client.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.enums import NextActionType, ScaExemption
from domain.gateway import ConfirmRequest, OutcomeStatus
from domain.money import Money
from infra.gateways.paypal import PayPalGateway
from tests.fakes.paypal_scenarios import (
    RETURN_URL,
    approved_order,
    authorization,
    authorized_order,
    key,
    operation,
)
from tests.fakes.paypal_server import FakePayPal


# --- the lifecycle ---------------------------------------------------------------------------
async def test_authorize_creates_an_order_the_buyer_must_approve(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    request = authorization(Money(1099, "EUR"))
    outcome = await gateway.authorize(request)

    assert outcome.status is OutcomeStatus.REQUIRES_ACTION
    order = paypal.orders[outcome.reference or ""]
    assert outcome.next_action is not None
    assert outcome.next_action.type is NextActionType.REDIRECT_TO_URL
    assert outcome.next_action.url == order.approval_url(paypal.site)
    [sent] = paypal.posts("/v2/checkout/orders")
    assert sent.headers["paypal-request-id"] == request.idempotency_key
    assert sent.body["intent"] == "AUTHORIZE"
    [unit] = sent.body["purchase_units"]
    assert unit["amount"] == {"currency_code": "EUR", "value": "10.99"}
    assert unit["custom_id"] == request.idempotency_key
    experience = sent.body["payment_source"]["paypal"]["experience_context"]
    assert experience["return_url"] == RETURN_URL
    assert order.status == "PAYER_ACTION_REQUIRED"


async def test_without_a_return_url_the_approve_link_is_the_next_action(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    outcome = await gateway.authorize(authorization(Money(500, "USD"), return_url=""))

    assert outcome.status is OutcomeStatus.REQUIRES_ACTION
    assert outcome.next_action is not None
    assert "checkoutnow?token=" in outcome.next_action.url
    assert paypal.orders[outcome.reference or ""].status == "CREATED"


async def test_approve_confirm_capture_and_refund(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await approved_order(gateway, paypal, Money(5000, "EUR"))

    confirmed = await gateway.confirm(ConfirmRequest(key(), order_id, Money(5000, "EUR")))
    # The order id stays the payment's gateway id; capture and void find the authorization.
    assert (confirmed.status, confirmed.reference) == (OutcomeStatus.SUCCEEDED, order_id)
    authorization_obj = paypal.orders[order_id].authorization
    assert authorization_obj is not None and authorization_obj.status == "CREATED"

    captured = await gateway.capture(operation(order_id, Money(4000, "EUR")))
    assert captured.status is OutcomeStatus.SUCCEEDED
    capture = paypal.captures[captured.reference or ""]
    assert (str(capture.amount), capture.final_capture) == ("40.00", True)
    assert authorization_obj.status == "CAPTURED"

    first = await gateway.refund(operation(order_id, Money(1500, "EUR"), capture.id))
    assert first.status is OutcomeStatus.SUCCEEDED
    assert paypal.refunds[first.reference or ""].capture_id == capture.id
    # Without the capture's id the adapter reads it from the order.
    second = await gateway.refund(operation(order_id, Money(2500, "EUR")))
    assert second.status is OutcomeStatus.SUCCEEDED
    assert capture.status == "REFUNDED"

    too_much = await gateway.refund(operation(order_id, Money(1, "EUR"), capture.id))
    assert (too_much.status, too_much.failure_code) == (
        OutcomeStatus.DECLINED,
        "INVALID_GATEWAY_STATE",
    )
    assert "CAPTURE_FULLY_REFUNDED" in (too_much.failure_reason or "")


async def test_a_refund_beyond_the_capture_is_amount_too_large(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(1000, "USD"))
    captured = await gateway.capture(operation(order_id, Money(1000, "USD")))

    refund = await gateway.refund(operation(order_id, Money(1001, "USD"), captured.reference))

    assert (refund.status, refund.failure_code) == (OutcomeStatus.DECLINED, "AMOUNT_TOO_LARGE")
    assert paypal.refunds == {}


async def test_void_releases_the_authorization_and_then_nothing_can_be_captured(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(2000, "GBP"))
    held = paypal.orders[order_id].authorization
    assert held is not None

    voided = await gateway.void(operation(order_id, Money(2000, "GBP")))
    assert (voided.status, voided.reference) == (OutcomeStatus.SUCCEEDED, held.id)
    assert held.status == "VOIDED"

    capture = await gateway.capture(operation(order_id, Money(2000, "GBP")))
    assert (capture.status, capture.failure_code) == (
        OutcomeStatus.DECLINED,
        "INVALID_GATEWAY_STATE",
    )
    assert "AUTHORIZATION_VOIDED" in (capture.failure_reason or "")
    again = await gateway.void(operation(order_id, Money(2000, "GBP")))
    assert again.failure_code == "INVALID_GATEWAY_STATE"


async def test_voiding_an_order_never_authorized_sends_nothing(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    created = await gateway.authorize(authorization(Money(700, "EUR")))
    order_id = created.reference or ""

    voided = await gateway.void(operation(order_id, Money(700, "EUR")))

    assert (voided.status, voided.reference) == (OutcomeStatus.SUCCEEDED, order_id)
    assert paypal.posts("/void") == []


async def test_capturing_more_than_authorized_is_amount_too_large(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(1000, "EUR"))

    outcome = await gateway.capture(operation(order_id, Money(1001, "EUR")))

    assert (outcome.status, outcome.failure_code) == (OutcomeStatus.DECLINED, "AMOUNT_TOO_LARGE")
    assert paypal.captures == {}


async def test_a_saved_wallet_authorizes_without_the_buyer(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    wallet = paypal.save_wallet(email="returning@example.com")
    request = authorization(Money(2599, "EUR"), token=wallet)

    outcome = await gateway.authorize(request)

    assert outcome.status is OutcomeStatus.SUCCEEDED
    order = paypal.orders[outcome.reference or ""]
    assert order.authorization is not None and order.authorization.status == "CREATED"
    assert order.payer_email == "returning@example.com"
    create, authorize = paypal.posts("/v2/checkout/orders")
    assert create.headers["paypal-request-id"] == request.idempotency_key
    assert "payment_source" not in create.body
    assert authorize.path.endswith(f"/{order.id}/authorize")
    assert authorize.headers["paypal-request-id"] == f"{request.idempotency_key}:authorize"
    assert authorize.body == {"payment_source": {"paypal": {"vault_id": wallet}}}
    captured = await gateway.capture(operation(order.id, Money(2599, "EUR")))
    assert captured.status is OutcomeStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("wallet", "code"),
    [
        ({"issue": "INSTRUMENT_DECLINED"}, "CARD_DECLINED"),
        ({"denial": "5120"}, "INSUFFICIENT_FUNDS"),
        ({"denial": "5400"}, "EXPIRED_CARD"),
    ],
)
async def test_a_saved_wallet_declined(
    gateway: PayPalGateway, paypal: FakePayPal, wallet: dict[str, str], code: str
) -> None:
    token = paypal.save_wallet(**wallet)

    outcome = await gateway.authorize(authorization(Money(1000, "EUR"), token=token))

    assert (outcome.status, outcome.failure_code, outcome.soft) == (
        OutcomeStatus.DECLINED,
        code,
        False,
    )
    assert outcome.reference in paypal.orders and outcome.failure_reason


async def test_a_wallet_paypal_does_not_know_is_an_invalid_token(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    outcome = await gateway.authorize(authorization(Money(1000, "EUR"), token="nosuchwallet"))

    assert outcome.failure_code == "PAYMENT_METHOD_TOKEN_INVALID"
    assert paypal.authorizations == {}


# --- idempotency -----------------------------------------------------------------------------
async def test_the_same_key_creates_one_order(gateway: PayPalGateway, paypal: FakePayPal) -> None:
    request = authorization(Money(1234, "EUR"))

    first = await gateway.authorize(request)
    second = await gateway.authorize(request)

    assert first == second
    assert len(paypal.orders) == 1
    sent = paypal.posts("/v2/checkout/orders")
    assert [r.headers["paypal-request-id"] for r in sent] == [request.idempotency_key] * 2


async def test_the_same_key_authorizes_a_saved_wallet_once(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    request = authorization(Money(1234, "EUR"), token=paypal.save_wallet())

    first, second = await gateway.authorize(request), await gateway.authorize(request)

    assert first == second and first.status is OutcomeStatus.SUCCEEDED
    assert len(paypal.orders) == len(paypal.authorizations) == 1


async def test_the_same_key_captures_and_refunds_once(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(3000, "EUR"))
    capture = operation(order_id, Money(3000, "EUR"))
    captured = [await gateway.capture(capture) for _ in range(2)]
    assert captured[0] == captured[1] and len(paypal.captures) == 1

    refund = operation(order_id, Money(1000, "EUR"), captured[0].reference)
    refunded = [await gateway.refund(refund) for _ in range(2)]
    assert refunded[0] == refunded[1] and len(paypal.refunds) == 1


async def test_every_post_carries_the_idempotency_key(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(3000, "EUR"))
    captured = await gateway.capture(operation(order_id, Money(3000, "EUR")))
    await gateway.refund(operation(order_id, Money(100, "EUR"), captured.reference))

    api_posts = paypal.posts("/v2/")
    assert len(api_posts) == 4
    assert all(r.headers.get("paypal-request-id", "").startswith("payments-") for r in api_posts)


# --- amounts ---------------------------------------------------------------------------------
# ISO 4217 minor units (what the contract carries) beside the decimal string PayPal is sent.
@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [
        (1099, "EUR", "10.99"),
        (1000, "EUR", "10.00"),
        (5, "EUR", "0.05"),
        (1000, "JPY", "1000"),  # ISO: no decimals
        (999_999_999_999_999, "EUR", "9999999999999.99"),
        (150000, "HUF", "1500"),  # ISO: 2 decimals; PayPal takes forints whole
        (12300, "TWD", "123"),  # ISO: 2 decimals; PayPal takes dollars whole
    ],
)
async def test_amounts_are_exact_decimal_strings(
    gateway: PayPalGateway, paypal: FakePayPal, minor: int, currency: str, value: str
) -> None:
    await gateway.authorize(authorization(Money(minor, currency)))

    [sent] = paypal.posts("/v2/checkout/orders")
    assert sent.body["purchase_units"][0]["amount"] == {"currency_code": currency, "value": value}


async def test_partial_capture_and_refund_are_exact(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(10_005, "EUR"))

    captured = await gateway.capture(operation(order_id, Money(10_001, "EUR")))
    await gateway.refund(operation(order_id, Money(3, "EUR"), captured.reference))

    [capture_post] = [r for r in paypal.posts() if r.path.endswith("/capture")]
    [refund_post] = paypal.posts("/refund")
    assert capture_post.body["amount"] == {"currency_code": "EUR", "value": "100.01"}
    assert refund_post.body["amount"] == {"currency_code": "EUR", "value": "0.03"}
    [refund] = paypal.refunds.values()
    assert str(refund.amount) == "0.03"


@pytest.mark.parametrize(
    ("minor", "currency"),
    [
        (1234, "KWD"),  # ISO: 3 decimals; not a PayPal currency
        (1234, "IQD"),  # ISO: 3 decimals; not a PayPal currency
        (500, "ISK"),  # ISO: no decimals; not a PayPal currency
        (100, "XTS"),  # ISO's test code: not a currency at all
    ],
)
async def test_a_currency_paypal_does_not_take_is_refused_without_a_call(
    gateway: PayPalGateway, paypal: FakePayPal, minor: int, currency: str
) -> None:
    outcome = await gateway.authorize(authorization(Money(minor, currency)))

    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "UNSUPPORTED_CURRENCY",
    )
    assert currency in (outcome.failure_reason or "")
    assert paypal.requests == []


async def test_a_fraction_paypal_cannot_take_is_refused_without_a_call(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    outcome = await gateway.authorize(authorization(Money(150050, "HUF")))  # 1500.50 HUF

    assert (outcome.status, outcome.failure_code) == (OutcomeStatus.DECLINED, "INVALID_AMOUNT")
    assert "whole units of HUF" in (outcome.failure_reason or "")
    assert paypal.requests == []


# --- SCA exemptions ----------------------------------------------------------------------------
async def test_merchant_initiated_is_refused_for_a_checkout_the_buyer_approves(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    request = authorization(Money(1099, "EUR"))
    outcome = await gateway.authorize(
        replace(request, sca_exemption=ScaExemption.MERCHANT_INITIATED)
    )
    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "SCA_EXEMPTION_UNSUPPORTED",
    )
    assert "PAYPAL" in (outcome.failure_reason or "")
    assert paypal.posts("/v2/") == []  # refused before any order was created


async def test_a_saved_wallet_charged_by_the_merchant_says_so_in_stored_credential(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    """The fake checks the stored_credential's shape (payment_initiator required)."""
    request = authorization(Money(1099, "EUR"), token=paypal.save_wallet())
    outcome = await gateway.authorize(
        replace(request, sca_exemption=ScaExemption.MERCHANT_INITIATED)
    )
    assert outcome.status is OutcomeStatus.SUCCEEDED
    [authorize] = paypal.posts("/authorize")
    assert authorize.body["payment_source"]["paypal"]["stored_credential"]["payment_initiator"] == (
        "MERCHANT"
    )
