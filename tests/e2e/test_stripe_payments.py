"""Stripe payments end to end: our gRPC API, the Stripe adapter built from the settings,
and localstripe (a Stripe emulator) behind it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest

from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support.channels import open_channel
from tests.support.localstripe import API_KEY, create_card_payment_method, pass_three_d_secure
from tests.support.servers import settings_for_tests

S = payment_pb2.PaymentStatus
ROUTES = [
    {"method_types": ["CREDIT_CARD", "DEBIT_CARD"], "currencies": ["EUR", "GBP", "JPY"],
     "gateways": ["STRIPE"]},
    {"gateways": ["SIMULATOR"]},
]  # fmt: skip


@dataclass
class StripeApp:
    payments: PaymentServiceStub
    methods: PaymentMethodServiceStub
    url: str  # localstripe

    async def card(self, number: str) -> str:
        return await create_card_payment_method(self.url, number)

    async def get(self, path: str) -> dict[str, Any]:
        """An object as Stripe itself sees it."""
        async with httpx.AsyncClient(base_url=self.url, auth=(API_KEY, ""), timeout=10) as c:
            response = await c.get(path)
        response.raise_for_status()
        return dict(response.json())


@pytest.fixture(scope="module")
async def stripe(database_url: str, localstripe_url: str) -> AsyncIterator[StripeApp]:
    application = PaymentApplication(
        settings_for_tests(
            stripe_api_key=API_KEY,
            stripe_api_base=localstripe_url,
            gateway_routes=json.dumps(ROUTES),
        ),
        database_url,
    )
    await application.start()
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield StripeApp(
            PaymentServiceStub(channel), PaymentMethodServiceStub(channel), localstripe_url
        )
    await application.stop(grace=1)


async def test_authorize_capture_partially_and_refund_at_stripe(stripe: StripeApp) -> None:
    token = await stripe.card("4242424242424242")
    created = await stripe.payments.CreatePayment(
        create_request(payment_method_token=token, authorize=True)
    )
    payment = created.payment
    assert payment.gateway == payment_pb2.GATEWAY_STRIPE
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.gateway_payment_id.startswith("pi_")
    pid = payment.payment_id
    captured = await stripe.payments.CapturePayment(
        pb.CapturePaymentRequest(payment_id=pid, amount_minor=800)
    )
    assert captured.payment.captured_amount_minor == 800
    first = await stripe.payments.RefundPayment(
        pb.RefundPaymentRequest(payment_id=pid, amount_minor=300)
    )
    second = await stripe.payments.RefundPayment(
        pb.RefundPaymentRequest(payment_id=pid, amount_minor=200)
    )
    assert first.refund.status == second.refund.status == refund_pb2.REFUND_STATUS_PROCESSED
    assert first.refund.gateway_refund_id.startswith("re_")
    assert second.payment.refunded_amount_minor == 500
    assert second.payment.status == S.PAYMENT_STATUS_PARTIALLY_REFUNDED
    beyond = await rpc_error(
        stripe.payments.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=301))
    )
    assert beyond.reason == "AMOUNT_EXCEEDS_REFUNDABLE"  # refused before Stripe is asked
    intent = await stripe.get(f"/v1/payment_intents/{payment.gateway_payment_id}")
    assert intent["status"] == "succeeded"


async def test_a_stripe_decline_fails_the_payment(stripe: StripeApp) -> None:
    token = await stripe.card("4000000000000341")
    error = await rpc_error(
        stripe.payments.CreatePayment(create_request(payment_method_token=token, authorize=True))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CARD_DECLINED")


async def test_three_d_secure_at_stripe(stripe: StripeApp) -> None:
    token = await stripe.card("4000002760003184")
    created = await stripe.payments.CreatePayment(
        create_request(
            payment_method_token=token, authorize=True, return_url="https://shop.example/return"
        )
    )
    assert created.payment.status == S.PAYMENT_STATUS_REQUIRES_ACTION
    await pass_three_d_secure(stripe.url, created.payment.next_action.url)
    confirmed = await stripe.payments.ConfirmPayment(
        pb.ConfirmPaymentRequest(payment_id=created.payment.payment_id)
    )
    assert confirmed.payment.status == S.PAYMENT_STATUS_AUTHORIZED


async def test_saved_cards_belong_to_one_stripe_customer_and_are_charged_with_it(
    stripe: StripeApp,
) -> None:
    user = new_id()
    saved = []
    for number in ("4242424242424242", "5555555555554444"):
        token = await stripe.card(number)
        added = await stripe.methods.AddPaymentMethod(
            mpb.AddPaymentMethodRequest(
                user_id=user,
                type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
                payment_method_token=token,
                gateway="GATEWAY_STRIPE",
            )
        )
        saved.append((token, added.payment_method))
    customers = {(await stripe.get(f"/v1/payment_methods/{t}")).get("customer") for t, _ in saved}
    assert len(customers) == 1 and None not in customers  # one customer holds both cards
    assert (saved[0][1].card_last4, saved[1][1].card_last4) == ("4242", "4444")

    created = await stripe.payments.CreatePayment(
        create_request(
            user_id=user,
            payment_method_token="",
            payment_method_id=saved[1][1].payment_method_id,
            authorize=True,
        )
    )
    assert created.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    intent = await stripe.get(f"/v1/payment_intents/{created.payment.gateway_payment_id}")
    assert intent["customer"] in customers


# --- SCA exemptions ----------------------------------------------------------------------------
async def test_a_merchant_initiated_payment_goes_off_session_with_the_saved_card(
    stripe: StripeApp,
) -> None:
    user = new_id()
    added = await stripe.methods.AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=user,
            type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
            payment_method_token=await stripe.card("4242424242424242"),
            gateway="GATEWAY_STRIPE",
        )
    )
    created = await stripe.payments.CreatePayment(
        create_request(
            user_id=user,
            payment_method_token="",
            payment_method_id=added.payment_method.payment_method_id,
            sca_exemption="SCA_EXEMPTION_MERCHANT_INITIATED",
            authorize=True,
        )
    )
    got = await stripe.payments.GetPayment(
        pb.GetPaymentRequest(payment_id=created.payment.payment_id)
    )
    payment = got.payment
    assert (payment.gateway, payment.status) == (
        payment_pb2.GATEWAY_STRIPE,
        S.PAYMENT_STATUS_AUTHORIZED,
    )
    assert payment.sca_exemption == payment_pb2.SCA_EXEMPTION_MERCHANT_INITIATED
    assert payment.sca_exemption_sent.startswith("off_session=true")
    # Stripe does not say whether the issuer applied it: unspecified, not a guess.
    assert payment.sca_exemption_result == payment_pb2.SCA_EXEMPTION_RESULT_UNSPECIFIED
    intent = await stripe.get(f"/v1/payment_intents/{payment.gateway_payment_id}")
    assert intent["off_session"] is True
    assert intent["payment_method_options"] == {"card": {"request_three_d_secure": "automatic"}}


async def test_an_exemption_stripe_cannot_request_is_routed_elsewhere_or_refused(
    stripe: StripeApp,
) -> None:
    token = await stripe.card("4242424242424242")
    # EUR cards route to Stripe; Stripe cannot ask for low value: the next route takes it.
    routed = await stripe.payments.CreatePayment(
        create_request(payment_method_token=token, sca_exemption="SCA_EXEMPTION_LOW_VALUE")
    )
    assert routed.payment.gateway == payment_pb2.GATEWAY_SIMULATOR
    # Pinned to Stripe, it is refused, naming Stripe, and nothing is created.
    pinned = create_request(
        payment_method_token=token,
        gateway="GATEWAY_STRIPE",
        sca_exemption="SCA_EXEMPTION_TRANSACTION_RISK_ANALYSIS",
        authorize=True,
    )
    error = await rpc_error(stripe.payments.CreatePayment(pinned))
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SCA_EXEMPTION_UNSUPPORTED",
    )
    assert error.metadata["gateway"] == "STRIPE"
    assert "STRIPE" in error.message
    # Nothing was created for the order: the same order pays without the exemption.
    unexempted = create_request(payment_method_token=token, gateway="GATEWAY_STRIPE",
                                order_id=pinned.order_id, user_id=pinned.user_id)  # fmt: skip
    created = await stripe.payments.CreatePayment(unexempted)
    assert created.payment.gateway == payment_pb2.GATEWAY_STRIPE
