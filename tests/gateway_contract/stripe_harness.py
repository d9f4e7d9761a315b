"""The Stripe adapter in the gateway contract, against localstripe.

localstripe ignores Idempotency-Key, so this harness records what the adapter puts on the wire
and the contract checks that each send carries the operation's key (what makes Stripe replay).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import stripe

from domain.enums import PaymentMethodType
from domain.gateway import GatewayOutcome
from infra.gateways.stripe import StripeGateway
from tests.gateway_contract.harness import TokenKind
from tests.support.localstripe import (
    API_KEY,
    CARDS,
    create_card_payment_method,
    pass_three_d_secure,
)


class RecordingHttpClient(stripe.HTTPXClient):
    """The SDK's own httpx client, noting method, path and Idempotency-Key of each request."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sent: list[tuple[str, str, str | None]] = []

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        self.sent.append((method.upper(), urlparse(url).path, headers.get("Idempotency-Key")))
        return await super().request_async(method, url, headers, post_data)


@dataclass
class StripeHarness:
    gateway: StripeGateway
    base_url: str
    http: RecordingHttpClient
    currency: str = "EUR"
    method_type: PaymentMethodType = PaymentMethodType.CREDIT_CARD
    replays_repeated_keys: bool = False  # localstripe ignores Idempotency-Key

    async def token(self, kind: TokenKind) -> str:
        return await create_card_payment_method(self.base_url, CARDS[kind])

    async def complete_action(self, outcome: GatewayOutcome) -> None:
        assert outcome.next_action is not None
        await pass_three_d_secure(self.base_url, outcome.next_action.url)

    async def exemption_received(self, outcome: GatewayOutcome) -> dict[str, Any] | None:
        """off_session and payment_method_options as the emulator keeps them on the
        PaymentIntent (tests/support/localstripe_launcher.py)."""
        assert outcome.reference
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            answer = await http.get(f"/v1/payment_intents/{outcome.reference}", auth=(API_KEY, ""))
        intent = answer.raise_for_status().json()
        options = intent.get("payment_method_options") or {}
        if not intent.get("off_session") and not options:
            return None
        return {"off_session": intent.get("off_session"), "payment_method_options": options}

    def idempotency_keys_sent(self) -> list[str]:
        return [key for method, _, key in self.http.sent if method == "POST" and key]


@pytest.fixture
async def stripe_harness(localstripe_url: str) -> AsyncIterator[StripeHarness]:
    http = RecordingHttpClient(timeout=10)
    # localstripe has no Search API and lists oldest first: scan all of this session's.
    gateway = StripeGateway(
        API_KEY, base_url=localstripe_url, http_client=http, search_api=False, scan_limit=10**6
    )
    yield StripeHarness(gateway, localstripe_url, http)
    await gateway.aclose()
