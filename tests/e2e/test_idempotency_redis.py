"""Redis is only a fast path: with it up, replays come from it; stopped mid-way, every
idempotency guarantee still holds (PostgreSQL decides)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_method_service_pb2 as pm
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support.channels import open_channel
from tests.support.redis_server import RedisServer
from tests.support.servers import settings_for_tests


@pytest.fixture
async def cached_app(
    database_url: str, private_redis: RedisServer
) -> AsyncIterator[tuple[PaymentApplication, SimulatorGateway, PaymentServiceStub]]:
    simulator = SimulatorGateway(latency_seconds=0.2)
    application = PaymentApplication(
        settings_for_tests(redis_key_prefix=f"t-{uuid.uuid4().hex[:8]}:"),
        database_url,
        gateways={GatewayName.SIMULATOR: simulator},
        redis_url=private_redis.url,
    )
    await application.start()
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield application, simulator, PaymentServiceStub(channel)
    await application.stop(grace=1)


async def storm(stub: PaymentServiceStub, request: pb.CreatePaymentRequest, n: int) -> set[str]:
    """n concurrent identical requests, each retried on IN_USE; the payment ids they got."""

    async def one() -> str:
        while True:
            try:
                return str((await stub.CreatePayment(request)).payment.payment_id)
            except grpc.aio.AioRpcError as error:
                assert error.code() is grpc.StatusCode.ABORTED, error
                await asyncio.sleep(0.05)  # the client's retry pause

    return set(await asyncio.gather(*(one() for _ in range(n))))


def authorizations_of(simulator: SimulatorGateway, payment: payment_pb2.Payment) -> int:
    keys = {f"payments-{t.transaction_id}" for t in payment.transactions}
    return sum(1 for op, key, _ in simulator.effects if op == "authorize" and key in keys)


async def test_answers_are_replayed_from_redis(
    cached_app: tuple[PaymentApplication, SimulatorGateway, PaymentServiceStub],
) -> None:
    """The keyed calls whose key is not kept in their own transactions (payment methods,
    reviews) have their answers cached; the lifecycle's calls keep Redis off their path."""
    app, _, stub = cached_app
    assert app.redis is not None
    create = create_request()
    await stub.CreatePayment(create)
    assert [key async for key in app.redis.scan_iter(match="t-*idem:answer:*")] == []
    request = pm.AddPaymentMethodRequest(
        request_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
        payment_method_token="pm_card_visa",
    )
    async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        methods = PaymentMethodServiceStub(channel)
        first = await methods.AddPaymentMethod(request)
        keys = [key async for key in app.redis.scan_iter(match="t-*idem:answer:*")]
        assert len(keys) == 1
        assert await methods.AddPaymentMethod(request) == first


async def test_redis_stopped_mid_way_changes_no_guarantee(
    cached_app: tuple[PaymentApplication, SimulatorGateway, PaymentServiceStub],
    private_redis: RedisServer,
) -> None:
    _, simulator, stub = cached_app
    before = create_request(authorize=True)
    assert len(await storm(stub, before, 20)) == 1

    private_redis.stop()
    during = create_request(authorize=True)
    [payment_id] = await storm(stub, during, 50)
    # Replays of a key completed before the outage now come from PostgreSQL.
    assert len(await storm(stub, before, 5)) == 1
    changed = pb.CreatePaymentRequest()
    changed.CopyFrom(during)
    changed.amount_minor += 1
    assert (await rpc_error(stub.CreatePayment(changed))).reason == "IDEMPOTENCY_KEY_REUSED"

    await private_redis.start()
    assert await storm(stub, during, 10) == {payment_id}
    payment = (await stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))).payment
    assert payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED
    assert authorizations_of(simulator, payment) == 1
