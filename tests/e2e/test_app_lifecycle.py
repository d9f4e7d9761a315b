"""How the application is composed and run (server/composition.py, server/app.py): building
it does no I/O; a start that fails half way releases what had started; stop releases
everything, in reverse order, and a second stop is harmless."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from server.app import PaymentApplication
from server.readiness import Readiness
from tests.support.servers import settings_for_tests

UNREACHABLE_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


async def test_building_connects_to_nothing_binds_nothing_and_starts_nothing() -> None:
    tasks_before = asyncio.all_tasks()
    app = PaymentApplication(
        settings_for_tests(kafka_brokers="127.0.0.1:1", kafka_enable_idempotence=False),
        UNREACHABLE_DB,  # building succeeds: nothing is asked of the database yet
        redis_url="redis://127.0.0.1:1/0",
    )
    assert asyncio.all_tasks() == tasks_before
    assert (app.grpc_port, app.rest_port, app.ops_port) == (0, 0, 0)
    assert app.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # The graph is whole before the start: the ports a use case runs with, the jobs.
    assert app.deps is not None and app.background is app.graph.background
    await app.stop()  # nothing started: nothing to release, no error


async def test_a_failed_start_releases_what_had_started(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = PaymentApplication(
            settings_for_tests(app_port=port),  # the REST shim cannot bind: start fails late
            database_url,
            gateways={GatewayName.SIMULATOR: SimulatorGateway()},
        )
        with pytest.raises(OSError):
            await app.start()
    # The ops port and the gRPC server had started: both were stopped again.
    assert app.ops_port and app.grpc_port
    for started_port in (app.ops_port, app.grpc_port):
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.1:{started_port}/livez", timeout=2)
    assert app.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_stop_releases_everything_and_twice_is_harmless(database_url: str) -> None:
    app = PaymentApplication(
        settings_for_tests(), database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    ops = f"http://127.0.0.1:{app.ops_port}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{ops}/readyz", timeout=10)).status_code == 200
    await app.stop(grace=1)
    await app.stop(grace=1)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{ops}/livez", timeout=2)
    assert app.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_readiness_says_starting_until_the_application_has_started() -> None:
    async def healthy() -> None:
        return None

    readiness = Readiness({"database": healthy}, timeout=1)
    assert await readiness.problems() == {"process": "starting"}
    readiness.starting = False
    assert await readiness.problems() == {}
    readiness.draining = True
    assert await readiness.problems() == {"process": "shutting down"}
