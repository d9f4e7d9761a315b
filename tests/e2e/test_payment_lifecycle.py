"""The payment lifecycle through the generated stubs against the in-process server."""

from __future__ import annotations

import grpc
import pytest

from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request, new_id, rpc_error

S = payment_pb2.PaymentStatus


async def authorized(stub: PaymentServiceStub, **overrides: object) -> payment_pb2.Payment:
    created = await stub.CreatePayment(create_request(**overrides))
    response = await stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id, request_id=new_id())
    )
    return response.payment


async def test_create_authorize_capture_refund_get(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    created = (await payments_stub.CreatePayment(create_request())).payment
    assert created.status == S.PAYMENT_STATUS_PENDING
    assert created.amount_minor == 1099 and created.currency == "EUR"
    pid = created.payment_id

    auth = await payments_stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=pid, request_id=new_id())
    )
    assert auth.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert auth.payment.authorized_amount_minor == 1099
    assert auth.payment.gateway_payment_id in simulator.charges

    cap = await payments_stub.CapturePayment(
        pb.CapturePaymentRequest(payment_id=pid, request_id=new_id(), amount_minor=500)
    )
    assert cap.payment.status == S.PAYMENT_STATUS_CAPTURED
    assert cap.payment.captured_amount_minor == 500

    refund = await payments_stub.RefundPayment(
        pb.RefundPaymentRequest(payment_id=pid, request_id=new_id(), amount_minor=200)
    )
    assert refund.refund.status == refund_pb2.REFUND_STATUS_PROCESSED
    assert refund.refund.amount_minor == 200

    got = (await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))).payment
    assert got.status == S.PAYMENT_STATUS_PARTIALLY_REFUNDED
    assert (got.captured_amount_minor, got.refunded_amount_minor) == (500, 200)
    assert [t.type for t in got.transactions] == [
        payment_pb2.TRANSACTION_TYPE_AUTHORIZATION,
        payment_pb2.TRANSACTION_TYPE_CAPTURE,
        payment_pb2.TRANSACTION_TYPE_REFUND,
    ]
    # The gateway's ledger agrees with the service's view.
    charge = simulator.charges[got.gateway_payment_id]
    assert (charge.captured_minor, charge.refunded_minor) == (500, 200)

    status = await payments_stub.GetPaymentStatus(pb.GetPaymentStatusRequest(payment_id=pid))
    assert status.status == S.PAYMENT_STATUS_PARTIALLY_REFUNDED

    fetched = await payments_stub.GetRefund(pb.GetRefundRequest(refund_id=refund.refund.refund_id))
    assert fetched.refund.payment_id == pid
    listed = await payments_stub.ListRefunds(pb.ListRefundsRequest(payment_id=pid))
    assert [r.refund_id for r in listed.refunds] == [refund.refund.refund_id]


async def test_refunding_the_rest_makes_the_payment_refunded(
    payments_stub: PaymentServiceStub,
) -> None:
    payment = await authorized(payments_stub, amount_minor=300, currency="JPY")
    pid = payment.payment_id
    await payments_stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
    await payments_stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=100))
    last = await payments_stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid))
    assert last.refund.amount_minor == 200
    assert last.payment.status == S.PAYMENT_STATUS_REFUNDED
    error = await rpc_error(
        payments_stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=1))
    )
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INVALID_STATE_TRANSITION"


async def test_refund_beyond_captured_is_refused_and_nothing_changes(
    payments_stub: PaymentServiceStub,
) -> None:
    payment = await authorized(payments_stub, amount_minor=1000)
    pid = payment.payment_id
    await payments_stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid, amount_minor=600))
    error = await rpc_error(
        payments_stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=601))
    )
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "AMOUNT_EXCEEDS_REFUNDABLE"
    assert error.metadata["refundable_amount_minor"] == "600"
    got = (await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))).payment
    assert got.refunded_amount_minor == 0 and got.status == S.PAYMENT_STATUS_CAPTURED
    assert (
        len((await payments_stub.ListRefunds(pb.ListRefundsRequest(payment_id=pid))).refunds) == 0
    )


async def test_capture_more_than_authorized_is_refused(payments_stub: PaymentServiceStub) -> None:
    payment = await authorized(payments_stub)
    error = await rpc_error(
        payments_stub.CapturePayment(
            pb.CapturePaymentRequest(payment_id=payment.payment_id, amount_minor=1100)
        )
    )
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "AMOUNT_EXCEEDS_CAPTURABLE"


async def test_capturing_a_cancelled_payment_is_an_invalid_transition(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    payment = await authorized(payments_stub)
    pid = payment.payment_id
    cancelled = await payments_stub.CancelPayment(
        pb.CancelPaymentRequest(payment_id=pid, reason="customer changed their mind")
    )
    assert cancelled.payment.status == S.PAYMENT_STATUS_CANCELLED
    assert simulator.charges[payment.gateway_payment_id].status == "voided"
    error = await rpc_error(payments_stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INVALID_STATE_TRANSITION"
    assert error.metadata["status"] == "CANCELLED"


async def test_cancelling_a_pending_payment_needs_no_gateway(
    payments_stub: PaymentServiceStub,
) -> None:
    created = (await payments_stub.CreatePayment(create_request())).payment
    cancelled = await payments_stub.CancelPayment(
        pb.CancelPaymentRequest(payment_id=created.payment_id)
    )
    assert cancelled.payment.status == S.PAYMENT_STATUS_CANCELLED
    assert len(cancelled.payment.transactions) == 0


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("pm_card_chargeDeclined", "CARD_DECLINED"),
        ("pm_card_chargeDeclinedInsufficientFunds", "INSUFFICIENT_FUNDS"),
        ("pm_card_chargeDeclinedExpiredCard", "EXPIRED_CARD"),
    ],
)
async def test_declines_fail_the_payment_with_the_decline_reason(
    payments_stub: PaymentServiceStub, token: str, reason: str
) -> None:
    created = (
        await payments_stub.CreatePayment(create_request(payment_method_token=token))
    ).payment
    error = await rpc_error(
        payments_stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=created.payment_id))
    )
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == reason
    assert error.metadata["payment_id"] == created.payment_id
    got = (
        await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=created.payment_id))
    ).payment
    assert got.status == S.PAYMENT_STATUS_FAILED
    assert got.failure_code == reason


async def test_a_declined_payment_can_be_retried_with_another_method(
    payments_stub: PaymentServiceStub,
) -> None:
    created = (
        await payments_stub.CreatePayment(
            create_request(payment_method_token="pm_card_chargeDeclined")
        )
    ).payment
    pid = created.payment_id
    await rpc_error(payments_stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=pid)))
    retried = await payments_stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=pid, payment_method_token="pm_card_mastercard")
    )
    assert retried.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert retried.payment.retry_count == 1
    assert retried.payment.failure_code == ""


async def test_authentication_required_asks_for_action(payments_stub: PaymentServiceStub) -> None:
    payment = await authorized(payments_stub, payment_method_token="pm_card_authenticationRequired")
    assert payment.status == S.PAYMENT_STATUS_REQUIRES_ACTION
    assert payment.next_action.type == payment_pb2.NEXT_ACTION_TYPE_REDIRECT_TO_URL
    assert payment.gateway_payment_id in payment.next_action.url


async def test_one_payment_per_order(payments_stub: PaymentServiceStub) -> None:
    request = create_request()
    first = (await payments_stub.CreatePayment(request)).payment
    again = create_request(order_id=request.order_id)
    error = await rpc_error(payments_stub.CreatePayment(again))
    assert error.code is grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "PAYMENT_ALREADY_EXISTS"
    assert error.metadata["payment_id"] == first.payment_id


async def test_unknown_payment_is_not_found(payments_stub: PaymentServiceStub) -> None:
    missing = new_id()
    error = await rpc_error(payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=missing)))
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "PAYMENT_NOT_FOUND"
    assert error.metadata == {"payment_id": missing}
