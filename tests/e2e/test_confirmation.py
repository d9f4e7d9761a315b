"""3-D Secure: REQUIRES_ACTION, then ConfirmPayment once the customer has authenticated."""

from __future__ import annotations

import grpc

from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request, new_id, rpc_error

S = payment_pb2.PaymentStatus
CHALLENGED = "pm_card_authenticationRequired"


async def challenged(stub: PaymentServiceStub, **fields: object) -> payment_pb2.Payment:
    created = await stub.CreatePayment(
        create_request(
            payment_method_token=CHALLENGED,
            authorize=True,
            return_url="https://shop.example/orders/42/paid",
            **fields,
        )
    )
    assert created.payment.status == S.PAYMENT_STATUS_REQUIRES_ACTION
    return created.payment


async def test_confirm_after_authentication_authorizes_with_liability_shift(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    # Above the simulated issuer's low-value ceiling (30.00): asked for, sent, not applied.
    payment = await challenged(
        payments_stub, sca_exemption="SCA_EXEMPTION_LOW_VALUE", amount_minor=5000
    )
    assert payment.next_action.url
    assert payment.sca_exemption == payment_pb2.SCA_EXEMPTION_LOW_VALUE
    assert payment.sca_exemption_sent == "sca_exemption=LOW_VALUE"
    assert payment.sca_exemption_result == payment_pb2.SCA_EXEMPTION_RESULT_NOT_APPLIED
    confirmed = await payments_stub.ConfirmPayment(
        pb.ConfirmPaymentRequest(payment_id=payment.payment_id, request_id=new_id())
    )
    assert confirmed.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert confirmed.payment.authorized_amount_minor == 5000
    # The confirmation does not unsay what the authorization sent.
    assert confirmed.payment.sca_exemption_sent == "sca_exemption=LOW_VALUE"
    assert confirmed.payment.liability_shift == payment_pb2.LIABILITY_SHIFT_SHIFTED
    assert not confirmed.payment.HasField("next_action")
    assert simulator.charges[payment.gateway_payment_id].status == "authorized"
    captured = await payments_stub.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment.payment_id)
    )
    assert captured.payment.status == S.PAYMENT_STATUS_CAPTURED


async def test_an_applied_exemption_skips_the_challenge_and_keeps_the_liability(
    payments_stub: PaymentServiceStub,
) -> None:
    created = await payments_stub.CreatePayment(
        create_request(
            payment_method_token=CHALLENGED, authorize=True, sca_exemption="SCA_EXEMPTION_LOW_VALUE"
        )
    )
    got = await payments_stub.GetPayment(
        pb.GetPaymentRequest(payment_id=created.payment.payment_id)
    )
    payment = got.payment
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert (payment.sca_exemption, payment.sca_exemption_sent, payment.sca_exemption_result) == (
        payment_pb2.SCA_EXEMPTION_LOW_VALUE,
        "sca_exemption=LOW_VALUE",
        payment_pb2.SCA_EXEMPTION_RESULT_APPLIED,
    )
    # Exempted, not authenticated: fraud stays the merchant's.
    assert payment.liability_shift == payment_pb2.LIABILITY_SHIFT_NOT_SHIFTED


async def test_a_merchant_initiated_exemption_without_a_saved_method_is_refused(
    payments_stub: PaymentServiceStub,
) -> None:
    error = await rpc_error(
        payments_stub.CreatePayment(
            create_request(authorize=True, sca_exemption="SCA_EXEMPTION_MERCHANT_INITIATED")
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SCA_EXEMPTION_UNSUPPORTED",
    )
    assert error.metadata["sca_exemption"] == "MERCHANT_INITIATED"


async def test_failed_authentication_fails_the_payment(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    payment = await challenged(payments_stub)
    simulator.fail_authentication(payment.gateway_payment_id)
    error = await rpc_error(
        payments_stub.ConfirmPayment(pb.ConfirmPaymentRequest(payment_id=payment.payment_id))
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "AUTHENTICATION_FAILED",
    )
    got = await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
    assert got.payment.status == S.PAYMENT_STATUS_FAILED
    assert got.payment.liability_shift == payment_pb2.LIABILITY_SHIFT_NOT_SHIFTED


async def test_confirm_needs_a_payment_that_requires_action(
    payments_stub: PaymentServiceStub,
) -> None:
    created = await payments_stub.CreatePayment(create_request(authorize=True))
    error = await rpc_error(
        payments_stub.ConfirmPayment(
            pb.ConfirmPaymentRequest(payment_id=created.payment.payment_id)
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_STATE_TRANSITION",
    )


async def test_return_url_must_be_https(payments_stub: PaymentServiceStub) -> None:
    error = await rpc_error(
        payments_stub.CreatePayment(create_request(return_url="javascript:alert(1)"))
    )
    assert "return_url" in error.field_violations
