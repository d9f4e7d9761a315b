"""A PayPal payment end to end: our gRPC API, the PayPal adapter built from the settings, and
the fake PayPal server behind it. The buyer approves at PayPal; ConfirmPayment completes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request
from tests.fakes.paypal_server import FakePayPal, running_fake_paypal
from tests.support.channels import open_channel
from tests.support.servers import settings_for_tests

S = payment_pb2.PaymentStatus
ROUTES = [{"method_types": ["PAYPAL"], "gateways": ["PAYPAL"]}, {"gateways": ["SIMULATOR"]}]


@pytest.fixture(scope="module")
async def paypal_app(
    database_url: str,
) -> AsyncIterator[tuple[PaymentServiceStub, FakePayPal]]:
    async with running_fake_paypal() as fake:
        application = PaymentApplication(
            settings_for_tests(
                paypal_client_id="fake-client-id",
                paypal_client_secret="fake-client-secret",
                paypal_api_base=fake.url,
                gateway_routes=json.dumps(ROUTES),
            ),
            database_url,
        )
        await application.start()
        async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
            yield PaymentServiceStub(channel), fake
        await application.stop(grace=1)


async def test_approve_confirm_capture_and_refund_at_paypal(
    paypal_app: tuple[PaymentServiceStub, FakePayPal],
) -> None:
    stub, fake = paypal_app
    created = await stub.CreatePayment(
        create_request(
            payment_method_type="PAYMENT_METHOD_TYPE_PAYPAL",
            payment_method_token="paypal",  # one-time checkout: the buyer approves at PayPal
            amount_minor=4250,
            authorize=True,
            return_url="https://shop.example/paypal/return",
        )
    )
    payment = created.payment
    assert payment.gateway == payment_pb2.GATEWAY_PAYPAL
    assert payment.status == S.PAYMENT_STATUS_REQUIRES_ACTION
    assert payment.next_action.url.startswith("http")
    fake.approve(payment.gateway_payment_id)  # the buyer, at the approval link

    pid = payment.payment_id
    confirmed = await stub.ConfirmPayment(pb.ConfirmPaymentRequest(payment_id=pid))
    assert confirmed.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    captured = await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
    assert captured.payment.captured_amount_minor == 4250
    refund = await stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=1000))
    assert refund.refund.status == refund_pb2.REFUND_STATUS_PROCESSED
    assert refund.payment.refunded_amount_minor == 1000
    # PayPal's own books agree, in decimal major units.
    [capture] = fake.captures.values()
    assert (capture.amount, capture.refunded) == (Decimal("42.50"), Decimal("10.00"))
