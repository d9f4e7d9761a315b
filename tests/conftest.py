"""Shared fixtures. Real PostgreSQL (a fresh database per session, migrated with alembic);
real Redis (the machine's, or a private server; this session's keys under their own prefix);
an in-process server on a free port for the end-to-end tests.

Infrastructure modules are imported inside the fixtures so that the unit suite, which uses
none of them, imports nothing but the domain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import grpc
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from infra.gateways.simulator import SimulatorGateway
    from payments.v1 import payment_method_service_pb2_grpc, payment_service_pb2_grpc
    from server.app import PaymentApplication
    from tests.support.redis_server import RedisServer


def pytest_configure(config: pytest.Config) -> None:
    """Every server a test starts binds its REST shim to a free port (APP_PORT=0), so that
    several servers, and subprocess servers, never fight over the default 8080."""
    import os

    os.environ["APP_PORT"] = "0"
    os.environ["OPS_PORT"] = "0"  # the ops port (server/ops_port.py) likewise


@pytest.fixture(scope="session")
def admin_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.support import databases

    return databases.admin_url(tmp_path_factory.mktemp("embedded"))


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, migrated database, dropped after the session."""
    from server.migrate import upgrade_to_head
    from tests.support import databases

    name = databases.create_database(admin_database_url)
    url = databases.sqlalchemy_url(databases.with_database(admin_database_url, name))
    upgrade_to_head(url)
    yield url
    databases.drop_database(admin_database_url, name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from infra.db.engine import make_engine

    engine = make_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """The machine's Redis (TEST_REDIS_URL, default 127.0.0.1:6379) when it answers, else a
    private server for the session."""
    import os

    from tests.support import redis_server

    url = os.environ.get("TEST_REDIS_URL", redis_server.DEFAULT_URL)
    if redis_server.answers_ping(url):
        yield url
        return
    server = redis_server.RedisServer()
    await server.start()
    yield server.url
    server.close()


@pytest.fixture(scope="session")
async def redis_key_prefix(redis_url: str) -> AsyncIterator[str]:
    """This session's key prefix (tests own their data); its keys are deleted at the end."""
    import uuid

    from infra.cache import make_redis

    prefix = f"payments-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = make_redis(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.unlink(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def private_redis() -> AsyncIterator[RedisServer]:
    """A Redis of this test's own, which it may stop and start again (outage tests)."""
    from tests.support.redis_server import RedisServer

    server = RedisServer()
    await server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
async def app(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> AsyncIterator[PaymentApplication]:
    from domain.enums import GatewayName
    from infra.gateways.simulator import SimulatorGateway
    from server.app import PaymentApplication
    from tests.support.servers import settings_for_tests
    from tests.support.webhook_signing import SESSION_STRIPE_SECRET

    application = PaymentApplication(
        # Every CHF payment is held for a fraud review, so that the access matrix
        # (tests/e2e/test_bola.py) has payments an administrator can review; its disputes
        # come from signed Stripe webhooks.
        settings_for_tests(
            redis_key_prefix=redis_key_prefix,
            fraud_review_amount_limits="CHF:1",
            stripe_webhook_secret=SESSION_STRIPE_SECRET,
        ),
        database_url,
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
        redis_url=redis_url,
    )
    await application.start()
    yield application
    await application.stop(grace=1)


@pytest.fixture(scope="session")
def simulator(app: PaymentApplication) -> SimulatorGateway:
    from domain.enums import GatewayName
    from infra.gateways.simulator import SimulatorGateway

    gateway = app.gateways[GatewayName.SIMULATOR]
    assert isinstance(gateway, SimulatorGateway)
    return gateway


@pytest.fixture(scope="session")
async def channel(app: PaymentApplication) -> AsyncIterator[grpc.aio.Channel]:
    from tests.support.channels import open_channel

    async with open_channel(f"127.0.0.1:{app.grpc_port}") as chan:
        yield chan


@pytest.fixture(scope="session")
def payments_stub(channel: grpc.aio.Channel) -> payment_service_pb2_grpc.PaymentServiceStub:
    from payments.v1 import payment_service_pb2_grpc

    return payment_service_pb2_grpc.PaymentServiceStub(channel)


@pytest.fixture(scope="session")
def methods_stub(
    channel: grpc.aio.Channel,
) -> payment_method_service_pb2_grpc.PaymentMethodServiceStub:
    from payments.v1 import payment_method_service_pb2_grpc

    return payment_method_service_pb2_grpc.PaymentMethodServiceStub(channel)


@pytest.fixture(scope="session")
async def rest_client(app: PaymentApplication) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client of the session server's REST shim."""
    import httpx

    from tests.support.channels import rest_headers

    base_url = f"http://127.0.0.1:{app.rest_port}"
    async with httpx.AsyncClient(base_url=base_url, headers=rest_headers()) as client:
        yield client


@pytest.fixture(scope="session")
async def localstripe_url() -> AsyncIterator[str]:
    """Base URL of a localstripe (Stripe emulator) of this session, its state in memory."""
    from tests.support.localstripe import LocalStripe

    server = LocalStripe()
    await server.start()
    yield server.url
    server.close()
