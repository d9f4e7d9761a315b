"""localstripe's own signed webhook reaching the service (through the REST shim) and
completing a payment: authorized through our API, captured at "Stripe" directly (as from its
dashboard), and the payment_intent.succeeded it sends captures ours."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request
from tests.support.channels import open_channel
from tests.support.localstripe import API_KEY, LocalStripe, create_card_payment_method
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

SECRET = "whsec_localstripe_e2e"
ROUTES = [{"method_types": ["CREDIT_CARD"], "gateways": ["STRIPE"]}, {"gateways": ["SIMULATOR"]}]


@pytest.fixture(scope="module")
async def localstripe() -> AsyncIterator[str]:
    """A localstripe of this module's own: its webhook configuration is global to it."""
    server = LocalStripe()
    await server.start()
    yield server.url
    server.close()


@pytest.fixture(scope="module")
async def app(database_url: str, localstripe: str) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(
            stripe_api_key=API_KEY,
            stripe_api_base=localstripe,
            stripe_webhook_secret=SECRET,
            gateway_routes=json.dumps(ROUTES),
        ),
        database_url,
    )
    await application.start()
    async with httpx.AsyncClient(base_url=localstripe, timeout=10) as client:
        endpoint = f"http://127.0.0.1:{application.rest_port}/api/v1/webhooks/stripe"
        configured = await client.post(
            "/_config/webhooks/payment-service", data={"url": endpoint, "secret": SECRET}
        )
        configured.raise_for_status()
    yield application
    await application.stop(grace=1)


async def test_localstripe_signed_succeeded_captures_the_payment(
    app: PaymentApplication, localstripe: str
) -> None:
    token = await create_card_payment_method(localstripe, "4242424242424242")
    async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        payments = PaymentServiceStub(channel)
        created = await payments.CreatePayment(
            create_request(payment_method_token=token, authorize=True)
        )
        payment = created.payment
        assert payment.gateway == payment_pb2.GATEWAY_STRIPE
        assert payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED
        async with httpx.AsyncClient(base_url=localstripe, auth=(API_KEY, ""), timeout=10) as c:
            captured = await c.post(f"/v1/payment_intents/{payment.gateway_payment_id}/capture")
            captured.raise_for_status()

        async def is_captured() -> bool:
            answer = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
            return bool(answer.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED)

        await eventually(is_captured, within=15)
        final = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        assert final.payment.captured_amount_minor == payment.amount_minor
