"""The PayPal adapter in the gateway contract, against the fake PayPal (tests/fakes).

Tokens: a saved PayPal wallet (a vault payment token) authorizes without the buyer, and the
fake's wallets can be set to decline (INSTRUMENT_DECLINED) or be denied for insufficient
funds (processor response 5120). `requires_action` is a one-time checkout: every such PayPal
authorization waits for the buyer to approve the order at PayPal first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from domain.enums import PaymentMethodType
from domain.gateway import GatewayOutcome
from infra.gateways.paypal import ONE_TIME_CHECKOUT, PayPalGateway
from tests.fakes.paypal_scenarios import make_gateway
from tests.fakes.paypal_server import FakePayPal, running_fake_paypal
from tests.gateway_contract.harness import TokenKind


@dataclass
class PayPalHarness:
    gateway: PayPalGateway
    paypal: FakePayPal
    currency: str = "EUR"
    method_type: PaymentMethodType = PaymentMethodType.PAYPAL
    replays_repeated_keys: bool = True  # the fake honours PayPal-Request-Id, as PayPal does

    async def token(self, kind: TokenKind) -> str:
        if kind == "requires_action":
            return ONE_TIME_CHECKOUT
        if kind == "declined":
            return self.paypal.save_wallet(issue="INSTRUMENT_DECLINED")
        if kind == "insufficient_funds":
            return self.paypal.save_wallet(denial="5120")
        return self.paypal.save_wallet()

    async def complete_action(self, outcome: GatewayOutcome) -> None:
        """The buyer follows the approval link and approves the order it names."""
        assert outcome.next_action is not None
        [order_id] = parse_qs(urlsplit(outcome.next_action.url).query)["token"]
        self.paypal.approve(order_id)

    async def exemption_received(self, outcome: GatewayOutcome) -> dict[str, Any] | None:
        """The stored_credential of the order's authorize request, as the fake received it."""
        path = f"/v2/checkout/orders/{outcome.reference}/authorize"
        bodies = [r.body for r in self.paypal.posts(path)]
        assert bodies, f"nothing was sent to {path}"
        found: dict[str, Any] | None = bodies[-1]["payment_source"]["paypal"].get(
            "stored_credential"
        )
        return found

    def idempotency_keys_sent(self) -> list[str]:
        return [
            r.headers["paypal-request-id"]
            for r in self.paypal.posts("/v2/")
            if "paypal-request-id" in r.headers
        ]


@pytest.fixture
async def paypal_harness() -> AsyncIterator[PayPalHarness]:
    async with running_fake_paypal() as paypal:
        gateway = make_gateway(paypal.url)
        yield PayPalHarness(gateway, paypal)
        await gateway.aclose()
