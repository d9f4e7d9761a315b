"""Automatic retries through the real worker job, on PostgreSQL's durable schedule.

The module has a database of its own: a retry worker claims every due retry of its database,
and another test server of the session (with a simulator of its own, which never saw these
charges) would otherwise take some of this module's retries and answer them wrongly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from infra.db.engine import make_engine
from infra.db.tables import scheduled_retries
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_faults import Fault
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsError
from server.app import PaymentApplication
from tests.e2e.helpers import create_request
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

S = payment_pb2.PaymentStatus


@pytest.fixture(scope="module")
def own_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_retries") as url:
        yield url


@pytest.fixture
async def own_engine(own_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(own_database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def retrying(
    own_database_url: str,
) -> AsyncIterator[tuple[PaymentServiceStub, SimulatorGateway]]:
    simulator = SimulatorGateway()
    application = PaymentApplication(
        settings_for_tests(
            retry_max_attempts=3,
            retry_base_seconds=0.05,
            retry_max_delay_seconds=0.5,
            retry_poll_interval_seconds=0.05,
            # Retries alone: a breaker would (rightly) hold them back while it is open.
            circuit_failure_threshold=1000,
        ),
        own_database_url,
        gateways={GatewayName.SIMULATOR: simulator},
    )
    await application.start()
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield PaymentServiceStub(channel), simulator
    await application.stop(grace=1)


async def test_a_refund_while_the_gateway_is_down_is_pending_then_processed(
    retrying: tuple[PaymentServiceStub, SimulatorGateway],
) -> None:
    stub, simulator = retrying
    created = await stub.CreatePayment(create_request(authorize=True))
    pid = created.payment.payment_id
    await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
    simulator.inject("refund", Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    response = await stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=400))
    assert response.refund.status == refund_pb2.REFUND_STATUS_PENDING  # accepted, not lost

    async def processed() -> bool:
        got = await stub.GetRefund(pb.GetRefundRequest(refund_id=response.refund.refund_id))
        return bool(got.refund.status == refund_pb2.REFUND_STATUS_PROCESSED)

    await eventually(processed)
    payment = (await stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))).payment
    assert payment.refunded_amount_minor == 400
    charge = simulator.charges[payment.gateway_payment_id]
    assert charge.refunded_minor == 400  # refunded once, through the original gateway


async def test_retry_success_rate_on_transient_faults(
    retrying: tuple[PaymentServiceStub, SimulatorGateway], own_engine: AsyncEngine
) -> None:
    """Half of all authorization calls fail transiently (unreachable or a processing error);
    with three automatic retries nearly every payment still goes through."""
    stub, simulator = retrying
    simulator.fail_randomly("authorize", 0.5, Fault.UNAVAILABLE, seed=7)
    payments = []
    for _ in range(40):
        try:
            response = await stub.CreatePayment(create_request(authorize=True))
            payments.append(response.payment.payment_id)
        except grpc.aio.AioRpcError as failed:
            error = PaymentsError.from_rpc_error(failed)
            assert (error.code, error.reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "GATEWAY_UNAVAILABLE",
            )
            payments.append(error.metadata["payment_id"])  # the caller learns which one

    async def statuses() -> list[int]:
        found = await asyncio.gather(
            *(stub.GetPayment(pb.GetPaymentRequest(payment_id=p)) for p in payments)
        )
        return [f.payment.status for f in found]

    async def no_retry_left() -> bool:
        async with own_engine.connect() as conn:
            left = await conn.scalar(
                select(func.count()).where(scheduled_retries.c.payment_id.in_(payments))
            )
        return left == 0

    await eventually(no_retry_left, within=30)
    final = await statuses()
    rate = final.count(S.PAYMENT_STATUS_AUTHORIZED) / len(payments)
    first_try = 0.5  # the injected fault rate
    print(f"retry success rate {rate:.1%} over {len(payments)} payments")  # shown with -s
    assert rate > 0.8, f"retry success rate {rate:.0%} (first-try success {first_try:.0%})"
    assert set(final) <= {S.PAYMENT_STATUS_AUTHORIZED, S.PAYMENT_STATUS_PENDING}
