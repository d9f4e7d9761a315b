"""Health follows the database; reflection lists the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlparse

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.tcp_proxy import TcpProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def health_of(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


async def test_serving_when_the_database_is_up(channel: grpc.aio.Channel) -> None:
    assert await health_of(channel) == SERVING
    assert await health_of(channel, "payments.v1.PaymentService") == SERVING


@pytest.fixture
async def proxied_app(database_url: str) -> AsyncIterator[tuple[PaymentApplication, TcpProxy]]:
    """A second server whose database connections pass through a proxy we can cut."""
    parsed = urlparse(database_url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    url = database_url.replace(f":{parsed.port}/", f":{proxy.port}/")
    application = PaymentApplication(settings_for_tests(), url)
    await application.start()
    yield application, proxy
    await application.stop(grace=0)
    await proxy.cut()


async def test_database_outage_is_reported_and_survived(
    proxied_app: tuple[PaymentApplication, TcpProxy],
) -> None:
    application, proxy = proxied_app
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        stub = PaymentServiceStub(channel)
        assert await health_of(channel) == SERVING

        await proxy.cut()
        await eventually(lambda: _is(channel, NOT_SERVING))
        error = await rpc_error(stub.CreatePayment(create_request()))
        assert error.code is grpc.StatusCode.UNAVAILABLE
        assert error.reason == "STORAGE_UNAVAILABLE"
        assert error.retryable

        await proxy.restore()
        await eventually(lambda: _is(channel, SERVING))

        async def create_succeeds() -> bool:
            try:
                await stub.CreatePayment(create_request())
            except grpc.aio.AioRpcError:
                return False  # pooled connections from before the outage are being replaced
            return True

        await eventually(create_succeeds)
        created = await stub.CreatePayment(create_request())
        got = await stub.GetPayment(pb.GetPaymentRequest(payment_id=created.payment.payment_id))
        assert got.payment.order_id == created.payment.order_id


async def _is(channel: grpc.aio.Channel, status: int) -> bool:
    return await health_of(channel) == status
