"""Idempotency keys (request_id) through the gRPC API, with Stripe's semantics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from infra.db.tables import idempotency_keys
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_ledger import MemoryLedger
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests


async def call_with_trailers(call: Any) -> tuple[Any, dict[str, str]]:
    response = await call
    trailers = await call.trailing_metadata()
    return response, {key: value for key, value in trailers or ()}


async def test_same_key_same_request_replays_without_acting_again(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    request = create_request(authorize=True)
    first, first_trailers = await call_with_trailers(payments_stub.CreatePayment(request))
    effects = len(simulator.effects)
    again, trailers = await call_with_trailers(payments_stub.CreatePayment(request))
    assert again == first
    assert trailers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first_trailers
    assert len(simulator.effects) == effects  # the gateway was not called again


async def test_same_key_other_parameters_is_refused(payments_stub: PaymentServiceStub) -> None:
    request = create_request()
    await payments_stub.CreatePayment(request)
    changed = pb.CreatePaymentRequest()
    changed.CopyFrom(request)
    changed.amount_minor += 1
    error = await rpc_error(payments_stub.CreatePayment(changed))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"


async def test_a_decline_is_replayed_not_retried(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway
) -> None:
    created = await payments_stub.CreatePayment(
        create_request(payment_method_token="pm_card_chargeDeclined")
    )
    authorize = pb.AuthorizePaymentRequest(
        payment_id=created.payment.payment_id, request_id=new_id()
    )
    first = await rpc_error(payments_stub.AuthorizePayment(authorize))
    assert isinstance(simulator.ledger, MemoryLedger)
    answers = len(simulator.ledger.answers)
    again = await rpc_error(payments_stub.AuthorizePayment(authorize))
    assert (first.code, first.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CARD_DECLINED")
    assert (again.code, again.reason, again.metadata) == (first.code, first.reason, first.metadata)
    assert len(simulator.ledger.answers) == answers
    got = await payments_stub.GetPayment(
        pb.GetPaymentRequest(payment_id=created.payment.payment_id)
    )
    assert got.payment.retry_count == 0  # one attempt only


async def test_invalid_requests_do_not_use_up_their_key(payments_stub: PaymentServiceStub) -> None:
    bad = create_request(currency="EURO")
    assert (await rpc_error(payments_stub.CreatePayment(bad))).reason == "VALIDATION_FAILED"
    fixed = create_request(request_id=bad.request_id, order_id=bad.order_id, user_id=bad.user_id)
    created = await payments_stub.CreatePayment(fixed)
    assert created.payment.currency == "EUR"


async def test_keys_are_scoped_per_method(payments_stub: PaymentServiceStub) -> None:
    key = new_id()
    created = await payments_stub.CreatePayment(create_request(request_id=key))
    authorized = await payments_stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id, request_id=key)
    )
    assert authorized.payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED


async def test_overlong_keys_are_invalid(payments_stub: PaymentServiceStub) -> None:
    error = await rpc_error(payments_stub.CreatePayment(create_request(request_id="k" * 256)))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id" in error.field_violations


async def test_without_a_key_one_payment_per_order_still_holds(
    payments_stub: PaymentServiceStub,
) -> None:
    request = create_request(request_id="")
    first = await payments_stub.CreatePayment(request)
    error = await rpc_error(payments_stub.CreatePayment(request))
    assert error.code is grpc.StatusCode.ALREADY_EXISTS
    assert error.metadata["payment_id"] == first.payment.payment_id


@pytest.fixture(scope="module")
async def slow_app(database_url: str) -> AsyncIterator[PaymentApplication]:
    """A server whose gateway takes 300 ms a call, so requests overlap."""
    slow = SimulatorGateway(latency_seconds=0.3)
    application = PaymentApplication(
        settings_for_tests(), database_url, gateways={GatewayName.SIMULATOR: slow}
    )
    await application.start()
    yield application
    await application.stop(grace=1)


async def test_a_running_request_makes_the_same_key_wait(
    slow_app: PaymentApplication, engine: AsyncEngine
) -> None:
    async with open_channel(f"127.0.0.1:{slow_app.grpc_port}") as channel:
        stub = PaymentServiceStub(channel)
        request = create_request(authorize=True)
        first = asyncio.ensure_future(stub.CreatePayment(request))

        async def first_holds_the_key() -> bool:
            async with engine.connect() as conn:
                state = await conn.scalar(
                    select(idempotency_keys.c.state).where(
                        idempotency_keys.c.key == request.request_id
                    )
                )
            return state == "IN_PROGRESS"

        await eventually(first_holds_the_key)
        error = await rpc_error(stub.CreatePayment(request))
        assert error.code is grpc.StatusCode.ABORTED
        assert error.reason == "IDEMPOTENCY_KEY_IN_USE"
        assert error.retryable
        created = await first
        replayed = await stub.CreatePayment(request)
        assert replayed == created


RETRYABLE = (grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE)


async def test_200_concurrent_identical_creates_make_one_payment(
    slow_app: PaymentApplication,
) -> None:
    """Every caller ends with the same payment (directly, or after IN_USE and a retry), and
    the gateway authorized once."""
    simulator = slow_app.gateways[GatewayName.SIMULATOR]
    assert isinstance(simulator, SimulatorGateway)
    request = create_request(authorize=True)
    async with open_channel(f"127.0.0.1:{slow_app.grpc_port}") as channel:
        stub = PaymentServiceStub(channel)

        async def until_answered() -> tuple[pb.CreatePaymentResponse, int]:
            in_use = 0
            while True:
                try:
                    return await stub.CreatePayment(request), in_use
                except grpc.aio.AioRpcError as error:
                    # IN_USE while another holds the key; on a loaded machine, also UNAVAILABLE
                    # when every pooled connection stayed busy past the pool timeout (the
                    # server's answer to overload, retryable like IN_USE).
                    assert error.code() in RETRYABLE, error
                    in_use += error.code() is grpc.StatusCode.ABORTED
                    await asyncio.sleep(0.05)  # a client's retry pause, not a test wait

        results = await asyncio.gather(*(until_answered() for _ in range(200)))
    payments = {response.payment.payment_id for response, _ in results}
    assert len(payments) == 1
    assert {response.payment.status for response, _ in results} == {
        payment_pb2.PAYMENT_STATUS_AUTHORIZED
    }
    assert sum(in_use for _, in_use in results) > 0  # they really overlapped
    [payment] = {response.payment.payment_id: response.payment for response, _ in results}.values()
    keys = {f"payments-{txn.transaction_id}" for txn in payment.transactions}
    assert len(payment.transactions) == 1
    assert [e[0] for e in simulator.effects if e[1] in keys] == ["authorize"]
