"""How many SQL statements and transactions each RPC of a payment's lifecycle costs.

The numbers are the budget docs/architecture.md states ("Round trips per call"): a change
that adds a statement or a transaction to one of these calls fails here, and either finds a
way back under the budget or raises it deliberately, in this file and in docs/architecture.md
together.

Counted on the server's own engine, one call at a time, on a server whose background jobs
stay idle during the test (their intervals are long), so every statement counted belongs to
the call. Transactions are the ones the server opened with BEGIN, committed or not: a
statement that is its transaction on its own (autocommit) is not one, it is a round trip.
Round trips are the statements, plus a BEGIN and an end of each transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

IDLE = 3600.0  # seconds between background rounds: none runs during a test


@dataclass
class Count:
    statements: int = 0
    transactions: int = 0


@pytest.fixture
async def quiet_app(database_url: str, redis_url: str) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(
            reconcile_interval_seconds=IDLE,
            retry_poll_interval_seconds=IDLE,
            idempotency_purge_interval_seconds=IDLE,
            retention_interval_seconds=IDLE,
            audit_link_interval_seconds=60,  # its longest: it runs at start, then idles
            audit_link_lease_seconds=120,
        ),
        database_url,
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
        redis_url=redis_url,
    )
    await application.start()
    yield application
    await application.stop(grace=1)


@contextmanager
def counting(app: PaymentApplication) -> Iterator[Count]:
    assert app.engine is not None
    engine = app.engine.sync_engine
    count = Count()

    def statement(*_: Any) -> None:
        count.statements += 1

    def begin(conn: Any) -> None:
        # Committed or not: a read-only one is a round trip too. Autocommit sends no BEGIN.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            count.transactions += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


async def background_settled(app: PaymentApplication) -> bool:
    """True when nothing ran a statement for half a second: the jobs' start-up rounds (each
    runs once at start, then idles) are over. The half second is a measuring window."""
    with counting(app) as count:
        await asyncio.sleep(0.5)
    return count.statements == 0


async def measured(app: PaymentApplication, call: Callable[[], Awaitable[Any]]) -> Count:
    with counting(app) as count:
        await call()
    return count


# (statements, transactions) at most, per RPC, with a request_id where it has one. The
# idempotency claim is made by the call's first commit, in the statement of its writes; the
# stored answer goes with the last. A plain create is that one statement alone; an operation
# is a read, its intent (with the claim) and its outcome (with the answer), each a statement
# alone (autocommit). A refund's phases hold row locks, hence its two transactions.
BUDGET = {
    "CreatePayment": (1, 0),
    "AuthorizePayment": (3, 0),
    "CapturePayment": (3, 0),
    "RefundPayment": (8, 2),
    "CancelPayment": (3, 0),
    "GetPayment": (1, 0),
}


async def test_each_rpc_of_a_lifecycle_stays_within_its_budget(
    quiet_app: PaymentApplication,
) -> None:
    seen: dict[str, Count] = {}
    async with open_channel(f"127.0.0.1:{quiet_app.grpc_port}") as channel:
        stub = PaymentServiceStub(channel)
        await stub.CreatePayment(create_request())  # warm-up: first-use work is not per call
        await eventually(lambda: background_settled(quiet_app), within=30)

        created: list[pb.CreatePaymentResponse] = []

        async def create() -> None:
            created.append(await stub.CreatePayment(create_request()))

        seen["CreatePayment"] = await measured(quiet_app, create)
        pid = created[0].payment.payment_id
        seen["AuthorizePayment"] = await measured(
            quiet_app,
            lambda: stub.AuthorizePayment(
                pb.AuthorizePaymentRequest(payment_id=pid, request_id=new_id())
            ),
        )
        seen["CapturePayment"] = await measured(
            quiet_app,
            lambda: stub.CapturePayment(
                pb.CapturePaymentRequest(payment_id=pid, request_id=new_id())
            ),
        )
        seen["RefundPayment"] = await measured(
            quiet_app,
            lambda: stub.RefundPayment(
                pb.RefundPaymentRequest(payment_id=pid, amount_minor=100, request_id=new_id())
            ),
        )
        seen["GetPayment"] = await measured(
            quiet_app, lambda: stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))
        )
        other = (await stub.CreatePayment(create_request(authorize=True))).payment.payment_id
        seen["CancelPayment"] = await measured(
            quiet_app,
            lambda: stub.CancelPayment(
                pb.CancelPaymentRequest(payment_id=other, request_id=new_id())
            ),
        )
    report = {rpc: (c.statements, c.transactions) for rpc, c in seen.items()}
    trips = {rpc: c.statements + 2 * c.transactions for rpc, c in seen.items()}
    print("statements and transactions per RPC:", report, "round trips:", trips)
    over = {
        rpc: (used, BUDGET[rpc])
        for rpc, used in report.items()
        if used[0] > BUDGET[rpc][0] or used[1] > BUDGET[rpc][1]
    }
    assert over == {}, f"over budget (used, budget): {over}"
