"""SIGKILL the server in the middle of a storm of captures; restart it; the reconciler must
leave no operation open and no payment captured twice at the gateway.

The simulator keeps its ledger in its own database schema here, so what it "charged"
survives the crash - as a real gateway's books would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import transactions
from infra.gateways.simulator_ledger import SqlLedger
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request, new_id
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow
PAYMENTS = 30
CAPTURE = payment_pb2.TRANSACTION_TYPE_CAPTURE


@pytest.fixture
async def crashable(database_url: str) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        SIMULATOR_LEDGER="database",
        SIMULATOR_LATENCY_MS="600",  # 300 ms before the gateway acts, 300 ms after
        GATEWAY_TIMEOUT_SECONDS="5",
        RECONCILE_AFTER_SECONDS="6",
        RECONCILE_INTERVAL_SECONDS="0.5",
    )
    await process.start()
    yield process
    print(process.output()[-6000:])  # shown when the test failed
    process.close()


async def open_operations(engine: AsyncEngine, payment_ids: list[str]) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).where(
                transactions.c.payment_id.in_(payment_ids),
                transactions.c.status.in_(("PENDING", "UNKNOWN")),
            )
        )
    return int(count or 0)


async def test_crash_during_captures_never_double_captures(
    crashable: ServerProcess, engine: AsyncEngine
) -> None:
    async with open_channel(crashable.target) as channel:
        stub = PaymentServiceStub(channel)
        created = await asyncio.gather(
            *(stub.CreatePayment(create_request(authorize=True)) for _ in range(PAYMENTS))
        )
        ids = [c.payment.payment_id for c in created]
        assert {c.payment.status for c in created} == {payment_pb2.PAYMENT_STATUS_AUTHORIZED}

        # Two captures per payment (a client retrying), none of them awaited before the crash.
        storm = [
            asyncio.ensure_future(stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid)))
            for pid in ids + ids
        ]

        async def captures_in_flight() -> bool:
            return await open_operations(engine, ids) >= PAYMENTS // 3

        await eventually(captures_in_flight, within=20)
        crashable.kill()
        await asyncio.gather(*storm, return_exceptions=True)

    left_open = await open_operations(engine, ids)
    assert left_open > 0  # the crash really interrupted captures mid-way

    await crashable.start()
    await eventually(lambda: _none_open(engine, ids), within=60)

    ledger = SqlLedger(engine)
    effects = await ledger.effects()
    async with open_channel(crashable.target) as channel:
        stub = PaymentServiceStub(channel)
        for pid in ids:
            payment = (await stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))).payment
            keys = {f"payments-{t.transaction_id}" for t in payment.transactions}
            captures = [amount for op, key, amount in effects if op == "capture" and key in keys]
            if payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED:
                assert captures == [payment.captured_amount_minor] == [1099], pid
            else:
                assert payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED, pid
                assert captures == [], pid
                # Nothing is stuck: the payment can be captured now, once.
                again = await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
                assert again.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    charged = [(await ledger.charge(c.payment.gateway_payment_id)) for c in created]
    assert all(charge is not None and charge.captured_minor == 1099 for charge in charged)


async def _none_open(engine: AsyncEngine, ids: list[str]) -> bool:
    return await open_operations(engine, ids) == 0


RETRYABLE = (grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE)


@pytest.mark.parametrize("gateway_acted", [True, False], ids=["gateway-acted", "never-reached"])
async def test_a_capture_sent_again_after_a_crash_answers_what_happened(
    database_url: str, engine: AsyncEngine, gateway_acted: bool
) -> None:
    """The server dies with the capture's intent committed and its outcome not - after the
    gateway captured, or before it got the call. Once the reconciler has settled it, the same
    request (same request_id) answers the capture as it happened: captured once, never an
    error for a capture that succeeded and never a second capture; stored and replayed."""
    process = ServerProcess(
        database_url,
        SIMULATOR_LEDGER="database",
        # 1 s before the gateway acts and 1 s after: room to kill the server on either side.
        SIMULATOR_LATENCY_MS="2000",
        GATEWAY_TIMEOUT_SECONDS="5",
        RECONCILE_AFTER_SECONDS="6",
        RECONCILE_INTERVAL_SECONDS="0.5",
        # The dead request's key is claimable again once its lease ends (longer than any
        # gateway call could still take).
        IDEMPOTENCY_LEASE_SECONDS="8",
    )
    await process.start()
    try:
        async with open_channel(process.target) as channel:
            stub = PaymentServiceStub(channel)
            created = await stub.CreatePayment(create_request(authorize=True))
            pid = created.payment.payment_id
            request = pb.CapturePaymentRequest(payment_id=pid, request_id=new_id())
            first = asyncio.ensure_future(stub.CapturePayment(request))

            async def capture_in_flight() -> bool:
                return await open_operations(engine, [pid]) == 1

            async def captured_at_the_gateway() -> bool:
                return any(op == "capture" for op, _, _ in await ledger_effects(engine, pid))

            await eventually(capture_in_flight, within=20)
            if gateway_acted:
                await eventually(captured_at_the_gateway, interval=0.02)
            process.kill()
            await asyncio.gather(first, return_exceptions=True)
        assert await open_operations(engine, [pid]) == 1  # the crash cut the capture short
        assert bool(await ledger_effects(engine, pid)) is gateway_acted

        await process.start()
        await eventually(lambda: _none_open(engine, [pid]), within=60)
        async with open_channel(process.target) as channel:
            stub = PaymentServiceStub(channel)
            answers: list[pb.CapturePaymentResponse] = []

            async def answered() -> bool:
                try:
                    answers.append(await stub.CapturePayment(request))
                except grpc.aio.AioRpcError as error:
                    # The dead request's key, until its lease ends: retry, as a client would.
                    assert error.code() in RETRYABLE, error
                    return False
                return True

            await eventually(answered, within=30, interval=0.5)
            again = stub.CapturePayment(request)
            replayed = dict(await again.trailing_metadata() or ())
            again_answer = await again
    finally:
        print(process.output()[-4000:])  # shown when the test failed
        process.close()

    [answer] = answers
    assert answer.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    assert answer.payment.captured_amount_minor == 1099
    assert again_answer == answer  # and from now on, replayed: stored with the key
    assert replayed.get("idempotent-replayed") == "true"
    captures = [amount for op, _, amount in await ledger_effects(engine, pid) if op == "capture"]
    assert captures == [1099]
    capture_txns = [t for t in answer.payment.transactions if t.type == CAPTURE]
    # Never reached: the first operation closed as GATEWAY_NOT_REACHED, then one capture.
    assert len(capture_txns) == (1 if gateway_acted else 2)


async def ledger_effects(engine: AsyncEngine, payment_id: str) -> list[tuple[str, str, int]]:
    """What the gateway did (its own books) under the keys of this payment's operations."""
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                select(transactions.c.id).where(transactions.c.payment_id == payment_id)
            )
        ).scalars()
        keys = {f"payments-{txn_id}" for txn_id in ids}
    return [e for e in await SqlLedger(engine).effects() if e[1] in keys and e[0] != "authorize"]
