"""The ops port (OPS_PORT): /livez, /readyz and /metrics over plaintext HTTP without a token,
beside public ports that keep their own rules (TLS, the metrics:read scope). Readiness
follows real faults: a database connection cut by a proxy, a schema one migration behind, a
Kafka broker killed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from alembic import command

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from server.cli import banner
from server.migrate import alembic_config
from tests.e2e.helpers import create_request
from tests.support import databases
from tests.support.certificates import Pki, make_pki
from tests.support.channels import open_channel
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.tcp_proxy import TcpProxy


async def ops_get(app: PaymentApplication, path: str) -> httpx.Response:
    """No token, no TLS: as the kubelet and Prometheus call it."""
    assert app.ops_port, "the ops port is not serving"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}") as client:
        return await client.get(path, timeout=10)


async def started(
    database_url: str, *, gateway: SimulatorGateway | None = None, **settings: Any
) -> PaymentApplication:
    app = PaymentApplication(
        settings_for_tests(**settings),
        database_url,
        gateways={GatewayName.SIMULATOR: gateway or SimulatorGateway()},
    )
    await app.start()
    return app


async def readiness_is(app: PaymentApplication, status: int) -> bool:
    return (await ops_get(app, "/readyz")).status_code == status


async def test_livez_answers(app: PaymentApplication) -> None:
    answer = await ops_get(app, "/livez")
    assert answer.status_code == 200
    assert answer.json() == {"status": "alive"}


async def test_readyz_when_ready(app: PaymentApplication) -> None:
    answer = await ops_get(app, "/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_metrics_without_token_on_the_ops_port_only(app: PaymentApplication) -> None:
    ops = await ops_get(app, "/metrics")
    assert ops.status_code == 200
    assert ops.headers["content-type"].startswith("text/plain")
    assert "# TYPE payments_grpc_requests_total counter" in ops.text
    assert "payments_outbox_backlog " in ops.text  # refreshed from the database at scrape
    # The public port still demands the metrics:read scope (tests/e2e/test_auth.py has the rest).
    async with httpx.AsyncClient() as client:
        public = await client.get(f"http://127.0.0.1:{app.rest_port}/metrics", timeout=10)
    assert public.status_code == 401
    # The ops port serves nothing else: no contract route, no OpenAPI.
    assert (await ops_get(app, "/openapi.json")).status_code == 404
    assert (await ops_get(app, "/api/v1/payments/x")).status_code == 404


@pytest.fixture
async def proxied_app(database_url: str) -> AsyncIterator[tuple[PaymentApplication, TcpProxy]]:
    """A server whose database connections pass through a proxy the test cuts."""
    parsed = urlparse(database_url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    url = database_url.replace(f":{parsed.port}/", f":{proxy.port}/")
    app = await started(url)
    yield app, proxy
    await app.stop(grace=0)
    await proxy.cut()


async def test_readyz_names_an_unreachable_database(
    proxied_app: tuple[PaymentApplication, TcpProxy],
) -> None:
    app, proxy = proxied_app
    assert await readiness_is(app, 200)
    await proxy.cut()
    answer = await ops_get(app, "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["failed"] == ["database"]
    assert body["checks"]["database"].startswith("unreachable")
    # The process itself is alive: liveness must not restart it for its database's outage.
    assert (await ops_get(app, "/livez")).status_code == 200
    await proxy.restore()
    await eventually(lambda: readiness_is(app, 200), within=20)


@pytest.fixture
def ops_database_url(admin_database_url: str) -> Iterator[str]:
    """A database of the test's own (migrations taken back and forward, a relay of its own)."""
    with databases.migrated_database(admin_database_url, "payments_ops") as url:
        yield url


async def test_readyz_refuses_a_schema_behind_head(ops_database_url: str) -> None:
    app = await started(ops_database_url)
    try:
        assert await readiness_is(app, 200)
        config = alembic_config(ops_database_url)
        await asyncio.to_thread(command.downgrade, config, "-1")
        answer = await ops_get(app, "/readyz")
        assert answer.status_code == 503
        assert answer.json()["failed"] == ["database"]
        assert "not migrated to head" in answer.json()["checks"]["database"]
        await asyncio.to_thread(command.upgrade, config, "head")
        assert await readiness_is(app, 200)
    finally:
        await app.stop(grace=0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def test_ops_port_is_plain_http_while_the_public_ports_use_tls(
    database_url: str, pki: Pki
) -> None:
    app = await started(
        database_url,
        tls_cert_file=pki.server.cert,
        tls_key_file=pki.server.key,
        tls_client_ca_file=pki.ca.cert,
        tls_require_client_cert=True,
    )
    try:
        assert (await ops_get(app, "/livez")).status_code == 200
        assert (await ops_get(app, "/readyz")).status_code == 200
        assert (await ops_get(app, "/metrics")).status_code == 200
        # The public REST port still refuses plaintext.
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"http://127.0.0.1:{app.rest_port}/health", timeout=5)
    finally:
        await app.stop(grace=0)


async def test_readyz_follows_the_kafka_brokers(ops_database_url: str) -> None:
    """Its own database: its relay must not publish (and mark) other tests' outbox rows."""
    broker = TansuBroker()
    await broker.start()
    app = await started(
        ops_database_url,
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
    )
    try:
        ready = await ops_get(app, "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
        broker.stop()
        await eventually(lambda: readiness_is(app, 503), within=20)
        answer = await ops_get(app, "/readyz")
        assert answer.json()["failed"] == ["kafka"]
        await broker.start()
        await eventually(lambda: readiness_is(app, 200), within=30)
    finally:
        await app.stop(grace=0)
        broker.stop()


def test_ops_port_can_be_switched_off() -> None:
    settings = settings_for_tests(ops_enabled=False)
    assert PaymentApplication(settings, "postgresql+asyncpg://unused/x").ops_port == 0


async def test_readyz_says_shutting_down_while_draining(database_url: str) -> None:
    """From the moment stop() begins, /readyz is 503 (the endpoints drop the pod) while an
    in-flight call (a 3 s gateway call, acting half way) drains; /livez still answers."""
    app = await started(database_url, gateway=SimulatorGateway(latency_seconds=3))
    stopping: asyncio.Task[None] | None = None
    try:
        async with open_channel(f"127.0.0.1:{app.grpc_port}", own_connection=True) as channel:
            call = asyncio.ensure_future(
                PaymentServiceStub(channel).CreatePayment(create_request(authorize=True))
            )
            await eventually(lambda: _in_flight(app), within=10)
            stopping = asyncio.create_task(app.stop(grace=10))
            await eventually(lambda: readiness_is(app, 503), within=5, interval=0.02)
            answer = await ops_get(app, "/readyz")
            assert answer.json()["checks"]["process"] == "shutting down"
            assert (await ops_get(app, "/livez")).status_code == 200
            created = await call  # the drain let it finish
            assert created.payment.payment_id
            await stopping
    finally:
        if stopping is None:
            await app.stop(grace=0)


async def _in_flight(app: PaymentApplication) -> bool:
    """The gateway has acted: the call is in its second half (1.5 s still to go)."""
    gateway = app.gateways[GatewayName.SIMULATOR]
    assert isinstance(gateway, SimulatorGateway)
    return bool(gateway.answers)


def test_the_banner_shows_the_ops_port() -> None:
    shown = banner(settings_for_tests(), 9090, "db", ops_port=9191)
    assert "http://127.0.0.1:9191/livez" in shown and "http://127.0.0.1:9191/readyz" in shown
    assert "ops       off" in banner(settings_for_tests(ops_enabled=False), 9090, "db")
