"""Steps of the PayPal checkout for tests: the shop's requests and the buyer's approval."""

from __future__ import annotations

import uuid

import httpx

from domain.enums import PaymentMethodType
from domain.gateway import (
    AuthorizationRequest,
    ConfirmRequest,
    GatewayOperationRequest,
    OutcomeStatus,
)
from domain.money import Money
from infra.gateways.paypal import ONE_TIME_CHECKOUT, PayPalGateway
from infra.gateways.paypal_client import PayPalClient
from tests.fakes.paypal_server import FakePayPal

RETURN_URL = "https://shop.example/paypal/return"
# Stalled requests are answered by the client's read timeout.
READ_TIMEOUT = 1.0


def key() -> str:
    return f"payments-{uuid.uuid4().hex}"


def make_gateway(base_url: str, client_id: str = "fake-client-id") -> PayPalGateway:
    """The adapter pointed at a fake PayPal (base URL override), with a short read timeout."""
    client = PayPalClient(
        client_id,
        "fake-client-secret",
        base_url=base_url,
        timeout=httpx.Timeout(READ_TIMEOUT, connect=2.0),
    )
    return PayPalGateway(client)


def authorization(
    amount: Money,
    idempotency_key: str | None = None,
    return_url: str = RETURN_URL,
    token: str = ONE_TIME_CHECKOUT,
) -> AuthorizationRequest:
    """A PayPal checkout the buyer approves, or one paid by a saved wallet (`token`)."""
    return AuthorizationRequest(
        idempotency_key=idempotency_key or key(),
        payment_id=f"pay_{uuid.uuid4().hex[:12]}",
        amount=amount,
        payment_method_type=PaymentMethodType.PAYPAL,
        payment_method_token=token,
        description="Order 1234",
        return_url=return_url,
    )


async def approved_order(gateway: PayPalGateway, paypal: FakePayPal, amount: Money) -> str:
    """An order created by the shop and approved by the buyer: its id."""
    outcome = await gateway.authorize(authorization(amount))
    assert outcome.status is OutcomeStatus.REQUIRES_ACTION and outcome.reference
    paypal.approve(outcome.reference)
    return outcome.reference


async def authorized_order(gateway: PayPalGateway, paypal: FakePayPal, amount: Money) -> str:
    order_id = await approved_order(gateway, paypal, amount)
    confirmed = await gateway.confirm(ConfirmRequest(key(), order_id, amount))
    assert confirmed.status is OutcomeStatus.SUCCEEDED, confirmed
    return order_id


def operation(order_id: str, amount: Money, capture: str | None = None) -> GatewayOperationRequest:
    return GatewayOperationRequest(key(), order_id, amount, capture_reference=capture)
