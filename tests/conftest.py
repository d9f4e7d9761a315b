"""Shared fixtures. Real PostgreSQL (a fresh database per session, migrated with alembic);
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
    from sqlalchemy.ext.asyncio import AsyncEngine

    from infra.gateways.simulator import SimulatorGateway
    from payments.v1 import payment_method_service_pb2_grpc, payment_service_pb2_grpc
    from server.app import PaymentApplication


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

    engine = make_engine(database_url, pool_size=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[PaymentApplication]:
    from domain.enums import GatewayName
    from infra.gateways.simulator import SimulatorGateway
    from server.app import PaymentApplication
    from tests.support.servers import settings_for_tests

    application = PaymentApplication(
        settings_for_tests(), database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
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
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as chan:
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
