"""Real concurrency against the in-process server and PostgreSQL: many calls on one payment
at once, through the generated stubs on the shared channel. Whatever interleaving happens,
the service, its refunds and the gateway's own ledger must agree, money must never move
twice, and every loser must get a clean, documented status."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsError
from tests.e2e.helpers import attempt, create_request, gateway_effects, new_id

S = payment_pb2.PaymentStatus
FP, ABORTED = grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED
# What a caller that lost a race may see: the state moved on, or the winner is still running.
LOST_RACE = {(FP, "INVALID_STATE_TRANSITION"), (ABORTED, "OPERATION_IN_PROGRESS")}
CONTENTION = {(ABORTED, "OPERATION_IN_PROGRESS"), (ABORTED, "CONCURRENT_MODIFICATION")}


def clean(error: PaymentsError, allowed: set[tuple[grpc.StatusCode, str]]) -> bool:
    return (error.code, error.reason) in allowed


async def get(stub: PaymentServiceStub, payment_id: str) -> payment_pb2.Payment:
    return (await stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))).payment


async def authorized(stub: PaymentServiceStub, amount_minor: int = 1000) -> payment_pb2.Payment:
    created = (
        await stub.CreatePayment(create_request(amount_minor=amount_minor, currency="EUR"))
    ).payment
    answer = await stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=created.payment_id, request_id=new_id())
    )
    assert answer.payment.status == S.PAYMENT_STATUS_AUTHORIZED
    return answer.payment


async def captured(stub: PaymentServiceStub, amount_minor: int = 1000) -> payment_pb2.Payment:
    payment = await authorized(stub, amount_minor)
    answer = await stub.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment.payment_id, request_id=new_id())
    )
    assert answer.payment.captured_amount_minor == amount_minor
    return answer.payment


def refund_call(
    stub: PaymentServiceStub, payment_id: str, amount_minor: int | None
) -> asyncio.Future[pb.RefundPaymentResponse | PaymentsError]:
    request = pb.RefundPaymentRequest(payment_id=payment_id, request_id=new_id())
    if amount_minor is not None:
        request.amount_minor = amount_minor
    return asyncio.ensure_future(attempt(stub.RefundPayment(request)))


async def assert_refunds_agree(
    stub: PaymentServiceStub,
    simulator: SimulatorGateway,
    engine: AsyncEngine,
    payment_id: str,
    processed: list[refund_pb2.Refund],
) -> int:
    """The refunds the callers were told about are exactly the money that moved, in the
    service's payment, its refund list, its transaction log and the gateway's ledger."""
    total = sum(r.amount_minor for r in processed)
    payment = await get(stub, payment_id)
    assert payment.refunded_amount_minor == total
    assert payment.refunded_amount_minor <= payment.captured_amount_minor
    expected_status = (
        S.PAYMENT_STATUS_CAPTURED
        if total == 0
        else S.PAYMENT_STATUS_REFUNDED
        if total == payment.captured_amount_minor
        else S.PAYMENT_STATUS_PARTIALLY_REFUNDED
    )
    assert payment.status == expected_status

    refund_txns = [t for t in payment.transactions if t.type == payment_pb2.TRANSACTION_TYPE_REFUND]
    assert sorted(t.transaction_id for t in refund_txns) == sorted(
        r.transaction_id for r in processed
    )
    assert {t.status for t in refund_txns} <= {payment_pb2.TRANSACTION_STATUS_SUCCEEDED}

    listed = (
        await stub.ListRefunds(pb.ListRefundsRequest(payment_id=payment_id, page_size=500))
    ).refunds
    assert sorted(r.refund_id for r in listed) == sorted(r.refund_id for r in processed)
    assert {r.status for r in listed} <= {refund_pb2.REFUND_STATUS_PROCESSED}
    assert sum(r.amount_minor for r in listed) == total
    created = [r.created_at.ToNanoseconds() for r in listed]
    assert created == sorted(created)  # oldest first, however they interleaved

    charge = simulator.charges[payment.gateway_payment_id]
    assert charge.refunded_minor == total
    assert sorted(charge.refunds) == sorted(r.gateway_refund_id for r in processed)
    effects = await gateway_effects(engine, simulator, payment_id)
    refunds_at_gateway = [amount for kind, _, amount in effects if kind == "refund"]
    assert len(refunds_at_gateway) == len(processed)
    assert sum(refunds_at_gateway) == total
    return total


async def test_concurrent_partial_refunds_never_exceed_the_captured_amount(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    payment = await captured(payments_stub, 1000)
    pid = payment.payment_id

    # 50 x 30 = 1500 asked for, 1000 captured.
    results = await asyncio.gather(*(refund_call(payments_stub, pid, 30) for _ in range(50)))

    processed = [r.refund for r in results if not isinstance(r, PaymentsError)]
    errors = [r for r in results if isinstance(r, PaymentsError)]
    unexpected = [
        e for e in errors if not clean(e, {(FP, "AMOUNT_EXCEEDS_REFUNDABLE")} | CONTENTION)
    ]
    assert unexpected == []
    # A refund that was accepted went through: the service reserved it, so the gateway
    # never had to decline one for exceeding the charge.
    assert [r.status for r in processed] == [refund_pb2.REFUND_STATUS_PROCESSED] * len(processed)
    assert {r.amount_minor for r in processed} <= {30}
    assert len({r.refund_id for r in processed}) == len(processed)
    total = await assert_refunds_agree(payments_stub, simulator, engine, pid, processed)
    assert total <= 1000

    exceeded = [e for e in errors if e.reason == "AMOUNT_EXCEEDS_REFUNDABLE"]
    assert all(int(e.metadata["refundable_amount_minor"]) < 30 for e in exceeded)
    assert len(processed) == total // 30
    # A refusal means less than 30 was left when it was checked; since every accepted
    # refund went through, less than 30 is left at the end too: no refund was refused while
    # there was room for it. (Without contention errors at least 17 must be refused.)
    if exceeded or len(errors) == len(exceeded):
        assert (total, len(processed)) == (990, 33)


async def test_concurrent_refunds_of_everything_left_refund_it_once(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    payment = await captured(payments_stub, 1000)
    pid = payment.payment_id

    # No amount: each asks for all that is still refundable.
    results = await asyncio.gather(*(refund_call(payments_stub, pid, None) for _ in range(20)))

    processed = [r.refund for r in results if not isinstance(r, PaymentsError)]
    errors = [r for r in results if isinstance(r, PaymentsError)]
    assert [r.amount_minor for r in processed] == [1000]
    allowed = {(FP, "AMOUNT_EXCEEDS_REFUNDABLE"), (FP, "INVALID_STATE_TRANSITION")}
    assert [e for e in errors if not clean(e, allowed | CONTENTION)] == []
    assert await assert_refunds_agree(payments_stub, simulator, engine, pid, processed) == 1000
    assert (await get(payments_stub, pid)).status == S.PAYMENT_STATUS_REFUNDED


async def test_capture_and_cancel_race_has_exactly_one_winner(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    payments = await asyncio.gather(*(authorized(payments_stub) for _ in range(20)))

    def capture(pid: str) -> asyncio.Future[pb.CapturePaymentResponse | PaymentsError]:
        request = pb.CapturePaymentRequest(payment_id=pid, request_id=new_id())
        return asyncio.ensure_future(attempt(payments_stub.CapturePayment(request)))

    def cancel(pid: str) -> asyncio.Future[pb.CancelPaymentResponse | PaymentsError]:
        request = pb.CancelPaymentRequest(payment_id=pid, request_id=new_id(), reason="race")
        return asyncio.ensure_future(attempt(payments_stub.CancelPayment(request)))

    # Every pair races at once; half of them send the cancel first.
    calls = []
    for i, payment in enumerate(payments):
        if i % 2:
            cancelling = cancel(payment.payment_id)
            calls.append((capture(payment.payment_id), cancelling))
        else:
            capturing = capture(payment.payment_id)
            calls.append((capturing, cancel(payment.payment_id)))
    await asyncio.gather(*(call for pair in calls for call in pair))

    winners: Counter[str] = Counter()
    for payment, (capture_call, cancel_call) in zip(payments, calls, strict=True):
        pid = payment.payment_id
        cap, can = capture_call.result(), cancel_call.result()
        failed = [r for r in (cap, can) if isinstance(r, PaymentsError)]
        assert len(failed) == 1, (pid, cap, can)
        assert clean(failed[0], LOST_RACE), failed[0]

        got = await get(payments_stub, pid)
        charge = simulator.charges[got.gateway_payment_id]
        effects = Counter(kind for kind, _, _ in await gateway_effects(engine, simulator, pid))
        assert effects["authorize"] == 1
        if isinstance(can, PaymentsError):
            winners["capture"] += 1
            assert got.status == S.PAYMENT_STATUS_CAPTURED
            assert got.captured_amount_minor == 1000
            assert (charge.status, charge.captured_minor) == ("captured", 1000)
            assert (effects["capture"], effects["void"]) == (1, 0)
        else:
            winners["cancel"] += 1
            assert got.status == S.PAYMENT_STATUS_CANCELLED
            assert got.captured_amount_minor == 0
            assert (charge.status, charge.captured_minor) == ("voided", 0)
            assert (effects["capture"], effects["void"]) == (0, 1)
        # The loser left no trace: only the winner's operation is in the log.
        kinds = [t.type for t in got.transactions]
        assert (
            kinds.count(payment_pb2.TRANSACTION_TYPE_CAPTURE)
            + kinds.count(payment_pb2.TRANSACTION_TYPE_VOID)
            == 1
        )
    assert sum(winners.values()) == 20


async def test_concurrent_captures_capture_once(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    payment = await authorized(payments_stub, 1000)
    pid = payment.payment_id

    # Each asks for a different amount, so the one captured tells which call won.
    amounts = [500 + i for i in range(30)]
    results = await asyncio.gather(
        *(
            attempt(
                payments_stub.CapturePayment(
                    pb.CapturePaymentRequest(payment_id=pid, request_id=new_id(), amount_minor=a)
                )
            )
            for a in amounts
        )
    )

    won = [
        (amount, r)
        for amount, r in zip(amounts, results, strict=True)
        if not isinstance(r, PaymentsError)
    ]
    errors = [r for r in results if isinstance(r, PaymentsError)]
    assert len(won) == 1
    assert [e for e in errors if not clean(e, LOST_RACE)] == []
    amount, answer = won[0]
    assert answer.payment.captured_amount_minor == amount

    got = await get(payments_stub, pid)
    assert (got.status, got.captured_amount_minor) == (S.PAYMENT_STATUS_CAPTURED, amount)
    captures = [t for t in got.transactions if t.type == payment_pb2.TRANSACTION_TYPE_CAPTURE]
    assert [(t.status, t.amount_minor) for t in captures] == [
        (payment_pb2.TRANSACTION_STATUS_SUCCEEDED, amount)
    ]
    charge = simulator.charges[got.gateway_payment_id]
    assert (charge.status, charge.captured_minor) == ("captured", amount)
    effects = await gateway_effects(engine, simulator, pid)
    assert [(kind, a) for kind, _, a in effects if kind == "capture"] == [("capture", amount)]


async def test_concurrent_authorizations_authorize_once(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    created = (await payments_stub.CreatePayment(create_request(amount_minor=1000))).payment
    pid = created.payment_id

    results = await asyncio.gather(
        *(
            attempt(
                payments_stub.AuthorizePayment(
                    pb.AuthorizePaymentRequest(payment_id=pid, request_id=new_id())
                )
            )
            for _ in range(30)
        )
    )

    won = [r for r in results if not isinstance(r, PaymentsError)]
    errors = [r for r in results if isinstance(r, PaymentsError)]
    assert len(won) == 1
    assert [e for e in errors if not clean(e, LOST_RACE)] == []
    got = await get(payments_stub, pid)
    assert (got.status, got.authorized_amount_minor) == (S.PAYMENT_STATUS_AUTHORIZED, 1000)
    assert got.retry_count == 0
    assert got.gateway_payment_id == won[0].payment.gateway_payment_id
    assert simulator.charges[got.gateway_payment_id].status == "authorized"
    effects = await gateway_effects(engine, simulator, pid)
    assert [(kind, a) for kind, _, a in effects] == [("authorize", 1000)]
