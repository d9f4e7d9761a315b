"""PAYPAL_WEBHOOK_VERIFICATION=api: PayPal's verify-webhook-signature decides, against the
fake PayPal server's implementation of that endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from domain.errors import WebhookSignatureInvalid
from infra.gateways.paypal_client import PayPalClient
from infra.webhooks.paypal_signature import PaypalApiVerifier, PaypalSignatureHeaders
from tests.fakes.paypal_server import FakePayPal, running_fake_paypal

WEBHOOK_ID = "WH-OURS-123"
EVENT = {"id": "WH-EVT-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}


@pytest.fixture
async def paypal() -> AsyncIterator[tuple[FakePayPal, PayPalClient]]:
    async with running_fake_paypal() as fake:
        client = PayPalClient(fake.client_id, "fake-client-secret", base_url=fake.url)
        yield fake, client
        await client.aclose()


async def test_a_webhook_paypal_sent_is_verified(
    paypal: tuple[FakePayPal, PayPalClient],
) -> None:
    fake, client = paypal
    headers = PaypalSignatureHeaders.from_metadata(fake.send_webhook(EVENT, WEBHOOK_ID))
    await PaypalApiVerifier(WEBHOOK_ID, client).verify(json.dumps(EVENT).encode(), headers)


@pytest.mark.parametrize(
    ("webhook_id", "event"),
    [
        ("WH-SOMEONE-ELSE", EVENT),  # sent to another subscription
        (WEBHOOK_ID, EVENT | {"id": "WH-EVT-FORGED"}),  # another event under its headers
    ],
)
async def test_anything_paypal_did_not_send_is_rejected(
    paypal: tuple[FakePayPal, PayPalClient], webhook_id: str, event: dict[str, object]
) -> None:
    fake, client = paypal
    headers = PaypalSignatureHeaders.from_metadata(fake.send_webhook(EVENT, WEBHOOK_ID))
    with pytest.raises(WebhookSignatureInvalid):
        await PaypalApiVerifier(webhook_id, client).verify(json.dumps(event).encode(), headers)
