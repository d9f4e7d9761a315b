"""A Stripe payment end to end: our gRPC API, the Stripe adapter built from the settings,
and localstripe (a Stripe emulator) behind it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
import pytest

from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support.localstripe import API_KEY, create_card_payment_method, pass_three_d_secure
from tests.support.servers import settings_for_tests

S = payment_pb2.PaymentStatus
ROUTES = [
    {"method_types": ["CREDIT_CARD", "DEBIT_CARD"], "currencies": ["EUR", "GBP", "JPY"],
     "gateways": ["STRIPE"]},
    {"gateways": ["SIMULATOR"]},
]  # fmt: skip


@pytest.fixture(scope="module")
async def stripe_app(
    database_url: str, localstripe_url: str
) -> AsyncIterator[tuple[PaymentServiceStub, str]]:
    application = PaymentApplication(
        settings_for_tests(
            stripe_api_key=API_KEY,
            stripe_api_base=localstripe_url,
            gateway_routes=json.dumps(ROUTES),
        ),
        database_url,
    )
    await application.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield PaymentServiceStub(channel), localstripe_url
    await application.stop(grace=1)


async def test_authorize_capture_partially_and_refund_at_stripe(
    stripe_app: tuple[PaymentServiceStub, str],
) -> None:
    stub, url = stripe_app
    token = await create_card_payment_method(url, "4242424242424242")
    created = await stub.CreatePayment(create_request(payment_method_token=token, authorize=True))
    payment = created.payment
    assert payment.gateway == payment_pb2.GATEWAY_STRIPE
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.gateway_payment_id.startswith("pi_")
    pid = payment.payment_id
    captured = await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid, amount_minor=800))
    assert captured.payment.captured_amount_minor == 800
    first = await stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=300))
    second = await stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=200))
    assert first.refund.status == second.refund.status == refund_pb2.REFUND_STATUS_PROCESSED
    assert first.refund.gateway_refund_id.startswith("re_")
    assert second.payment.refunded_amount_minor == 500
    assert second.payment.status == S.PAYMENT_STATUS_PARTIALLY_REFUNDED
    beyond = await rpc_error(
        stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=301))
    )
    assert beyond.reason == "AMOUNT_EXCEEDS_REFUNDABLE"  # refused before Stripe is asked


async def test_a_stripe_decline_fails_the_payment(
    stripe_app: tuple[PaymentServiceStub, str],
) -> None:
    stub, url = stripe_app
    token = await create_card_payment_method(url, "4000000000000341")
    error = await rpc_error(
        stub.CreatePayment(create_request(payment_method_token=token, authorize=True))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CARD_DECLINED")


async def test_three_d_secure_at_stripe(stripe_app: tuple[PaymentServiceStub, str]) -> None:
    stub, url = stripe_app
    token = await create_card_payment_method(url, "4000002760003184")
    created = await stub.CreatePayment(
        create_request(
            payment_method_token=token,
            authorize=True,
            return_url="https://shop.example/return",
        )
    )
    assert created.payment.status == S.PAYMENT_STATUS_REQUIRES_ACTION
    await pass_three_d_secure(url, created.payment.next_action.url)
    confirmed = await stub.ConfirmPayment(
        pb.ConfirmPaymentRequest(payment_id=created.payment.payment_id)
    )
    assert confirmed.payment.status == S.PAYMENT_STATUS_AUTHORIZED
