"""What /metrics refreshes at scrape time (server/metrics_scrape.py), against a real
PostgreSQL: the request pool's connections in use and its waiters, the circuit breakers,
and the rule that a burst of scrapes refreshes once per interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.enums import GatewayName
from infra.cache.circuit import LocalCircuitBreaker
from infra.db.engine import make_engine
from server.metrics import ServiceMetrics
from server.metrics_database import OPEN_OPERATIONS, OUTBOX_BACKLOG
from server.metrics_scrape import ScrapeRefresh, pool_waiters
from tests.support.polling import eventually


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=1)  # capacity 2: one plus its overflow
    yield engine
    await engine.dispose()


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_pool_use_and_waiters_are_reported(small_pool: AsyncEngine) -> None:
    metrics = ServiceMetrics()
    refresh = ScrapeRefresh(
        metrics, small_pool, breaker=LocalCircuitBreaker(), gateways=list, min_interval=0
    )
    await refresh()
    assert value(metrics, "payments_db_pool_in_use") == 0
    assert value(metrics, "payments_db_pool_capacity") == 2
    assert value(metrics, "payments_db_pool_waiting") == 0

    first, second = await small_pool.connect(), await small_pool.connect()
    waiting = asyncio.create_task(_select_one(small_pool))
    try:
        await eventually(lambda: _is(pool_waiters(small_pool.pool), 1))
        await refresh()
        assert value(metrics, "payments_db_pool_in_use") == 2
        assert value(metrics, "payments_db_pool_waiting") == 1
    finally:
        await first.close()
        await second.close()
    assert await waiting == 1
    await refresh()
    assert value(metrics, "payments_db_pool_waiting") == 0


async def test_a_burst_of_scrapes_refreshes_once_per_interval(small_pool: AsyncEngine) -> None:
    metrics, clock = ServiceMetrics(), ManualClock()
    breaker = LocalCircuitBreaker(threshold=1)
    refresh = ScrapeRefresh(
        metrics,
        small_pool,
        breaker=breaker,
        gateways=lambda: [GatewayName.SIMULATOR],
        min_interval=5,
        clock=clock,
    )
    await refresh()
    assert value(metrics, "payments_circuit_open", gateway="SIMULATOR") == 0
    assert value(metrics, "payments_open_operations", status="UNKNOWN") is not None
    assert value(metrics, "payments_retries_scheduled") is not None

    await breaker.record_failure(GatewayName.SIMULATOR)  # opens it (threshold 1)
    await asyncio.gather(refresh(), refresh(), refresh())
    assert value(metrics, "payments_circuit_open", gateway="SIMULATOR") == 0  # not re-read
    clock.now += 5
    await refresh()
    assert value(metrics, "payments_circuit_open", gateway="SIMULATOR") == 1


async def test_an_unreachable_database_does_not_fail_the_scrape() -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=1)
    metrics = ServiceMetrics()
    try:
        refresh = ScrapeRefresh(metrics, engine, breaker=LocalCircuitBreaker(), gateways=list)
        await refresh()  # logs, raises nothing
        assert value(metrics, "payments_db_pool_capacity") == 2
    finally:
        await engine.dispose()


async def _select_one(engine: AsyncEngine) -> int:
    conn: AsyncConnection
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT 1"))).scalar_one())


async def _is(actual: int, expected: int) -> bool:
    return actual == expected


@pytest.mark.parametrize(
    ("query", "table"),
    [(OUTBOX_BACKLOG, "outbox"), (OPEN_OPERATIONS, "transactions")],
)
async def test_the_scrape_queries_of_large_tables_have_an_index_path(
    engine: AsyncEngine, query: TextClause, table: str
) -> None:
    """With sequential scans priced out, a query still planned as one has no index to use:
    on a large outbox or transactions table every scrape would read it all."""
    async with engine.connect() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {query.text}")))
        await conn.rollback()
    assert f"Seq Scan on {table}" not in plan, plan
    assert "Index" in plan, plan
