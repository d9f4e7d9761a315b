"""Unknown outcomes: timeouts and faults at the gateway, settled by the reconciler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest

from domain.enums import GatewayName
from domain.usecases.reconcile import Reconciler
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_faults import Fault
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support.channels import open_channel
from tests.support.servers import settings_for_tests

S = payment_pb2.PaymentStatus
T = payment_pb2.TransactionStatus


class Faulty:
    def __init__(self, app: PaymentApplication, stub: PaymentServiceStub) -> None:
        self.app, self.stub = app, stub
        gateway = app.gateways[GatewayName.SIMULATOR]
        assert isinstance(gateway, SimulatorGateway)
        self.simulator = gateway
        assert app.deps is not None
        self.reconciler = Reconciler(app.deps, settle_after=timedelta(0))

    async def authorized(self) -> str:
        created = await self.stub.CreatePayment(create_request(authorize=True))
        return str(created.payment.payment_id)

    async def payment(self, payment_id: str) -> payment_pb2.Payment:
        return (await self.stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))).payment

    def effects(self, payment: payment_pb2.Payment, operation: str) -> list[int]:
        keys = {f"payments-{t.transaction_id}" for t in payment.transactions}
        return [
            amount for op, key, amount in self.simulator.effects if op == operation and key in keys
        ]


@pytest.fixture(scope="module")
async def faulty(database_url: str) -> AsyncIterator[Faulty]:
    simulator = SimulatorGateway()
    application = PaymentApplication(
        settings_for_tests(gateway_timeout_seconds=2.0, reconcile_after_seconds=3600),
        database_url,
        gateways={GatewayName.SIMULATOR: simulator},
    )
    await application.start()
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield Faulty(application, PaymentServiceStub(channel))
    await application.stop(grace=1)


async def test_capture_that_timed_out_after_acting_is_completed(faulty: Faulty) -> None:
    pid = await faulty.authorized()
    faulty.simulator.inject("capture", Fault.TIMEOUT_AFTER)
    error = await rpc_error(faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "GATEWAY_OUTCOME_UNKNOWN")
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.transactions[-1].status == T.TRANSACTION_STATUS_UNKNOWN

    # Until it is settled, nothing may conflict with it.
    for call in (
        faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)),
        faulty.stub.CancelPayment(pb.CancelPaymentRequest(payment_id=pid)),
    ):
        blocked = await rpc_error(call)
        assert (blocked.code, blocked.reason) == (
            grpc.StatusCode.ABORTED,
            "OPERATION_IN_PROGRESS",
        )

    assert await faulty.reconciler.run_once() >= 1
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_CAPTURED
    assert payment.captured_amount_minor == 1099
    assert faulty.effects(payment, "capture") == [1099]  # captured once, not twice


async def test_capture_that_never_reached_the_gateway_is_closed_and_can_be_retried(
    faulty: Faulty,
) -> None:
    pid = await faulty.authorized()
    faulty.simulator.inject("capture", Fault.TIMEOUT_BEFORE)
    await rpc_error(faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
    await faulty.reconciler.run_once()
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.transactions[-1].status == T.TRANSACTION_STATUS_FAILED
    assert payment.transactions[-1].failure_code == "GATEWAY_NOT_REACHED"
    captured = await faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
    assert captured.payment.status == S.PAYMENT_STATUS_CAPTURED
    assert faulty.effects(captured.payment, "capture") == [1099]


async def test_unreachable_gateway_changes_nothing(faulty: Faulty) -> None:
    pid = await faulty.authorized()
    faulty.simulator.inject("capture", Fault.UNAVAILABLE)
    error = await rpc_error(faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "GATEWAY_UNAVAILABLE")
    assert error.retryable
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.transactions[-1].status == T.TRANSACTION_STATUS_FAILED


async def test_a_slow_gateway_times_out_into_an_unknown_outcome(faulty: Faulty) -> None:
    pid = await faulty.authorized()
    # Longer than GATEWAY_TIMEOUT_SECONDS (2 s) of this server.
    faulty.simulator._half_latency = 1.5
    try:
        error = await rpc_error(
            faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
        )
    finally:
        faulty.simulator._half_latency = 0
    assert error.reason == "GATEWAY_OUTCOME_UNKNOWN"
    assert (await faulty.payment(pid)).transactions[-1].status == T.TRANSACTION_STATUS_UNKNOWN
    await faulty.reconciler.run_once()
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_CAPTURED
    assert faulty.effects(payment, "capture") == [1099]


async def test_a_refund_with_an_unknown_outcome_stays_pending_then_is_settled(
    faulty: Faulty,
) -> None:
    pid = await faulty.authorized()
    await faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
    faulty.simulator.inject("refund", Fault.TIMEOUT_AFTER)
    await rpc_error(
        faulty.stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=300))
    )
    [refund] = (await faulty.stub.ListRefunds(pb.ListRefundsRequest(payment_id=pid))).refunds
    assert refund.status == refund_pb2.REFUND_STATUS_PENDING
    # The pending refund keeps its reservation: only 799 more may be refunded meanwhile.
    too_much = await rpc_error(
        faulty.stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=800))
    )
    assert too_much.reason == "AMOUNT_EXCEEDS_REFUNDABLE"

    await faulty.reconciler.run_once()
    settled = await faulty.stub.GetRefund(pb.GetRefundRequest(refund_id=refund.refund_id))
    assert settled.refund.status == refund_pb2.REFUND_STATUS_PROCESSED
    payment = await faulty.payment(pid)
    assert payment.refunded_amount_minor == 300
    assert faulty.effects(payment, "refund") == [300]


async def test_an_unknown_authorization_is_settled_with_the_gateways_reference(
    faulty: Faulty,
) -> None:
    created = await faulty.stub.CreatePayment(create_request())
    pid = created.payment.payment_id
    faulty.simulator.inject("authorize", Fault.TIMEOUT_AFTER)
    await rpc_error(faulty.stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=pid)))
    assert (await faulty.payment(pid)).gateway_payment_id == ""
    await faulty.reconciler.run_once()
    payment = await faulty.payment(pid)
    assert payment.status == S.PAYMENT_STATUS_AUTHORIZED
    assert payment.gateway_payment_id in faulty.simulator.charges


async def test_reconciler_backs_off_while_the_gateway_is_unreachable(faulty: Faulty) -> None:
    pid = await faulty.authorized()
    faulty.simulator.inject("capture", Fault.TIMEOUT_BEFORE)
    await rpc_error(faulty.stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
    original_lookup = faulty.simulator.lookup

    async def unreachable(request: object) -> None:
        from domain.errors import GatewayUnavailable  # noqa: PLC0415

        raise GatewayUnavailable("down")

    faulty.simulator.lookup = unreachable  # type: ignore[method-assign]
    try:
        await faulty.reconciler.run_once()
        txn_id = (await faulty.payment(pid)).transactions[-1].transaction_id
        attempts, _ = faulty.reconciler._retry_at[txn_id]
        assert attempts == 1
        await faulty.reconciler.run_once()  # within the backoff: not asked again
        assert faulty.reconciler._retry_at[txn_id][0] == 1
    finally:
        faulty.simulator.lookup = original_lookup  # type: ignore[method-assign]
    assert (await faulty.payment(pid)).transactions[-1].status == T.TRANSACTION_STATUS_UNKNOWN
