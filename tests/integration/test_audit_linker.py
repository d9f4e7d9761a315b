"""The audit chain's linker in real PostgreSQL (migration 0017): writers only insert their
entries; one linker at a time, the lease holder, chains committed entries in (transaction,
position) order, skipping none, whatever order the transactions commit in; another linker
takes over when the holder's connection dies; the job in the server does it in the
background and hands the lease back when it stops. Each test has a database of its own:
linkers of other tests must not take the lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.actor import Actor, ActorKind
from domain.audit import AuditEntry, new_entry
from domain.audit_chain import ChainedEntry, PendingEntry, verify_chain, verify_pending
from infra.db.audit import SqlAuditReader, append_audit
from infra.db.audit_linker import SqlAuditLinker
from infra.db.engine import is_connection_failure, make_engine
from server.audit_linking import AuditLinkJob
from server.metrics import ServiceMetrics
from server.metrics_database import DatabaseGauges
from server.migrate import alembic_config
from tests.support import databases
from tests.support.polling import eventually

WRITER = Actor(ActorKind.SERVICE, "linker-tests", request_id="req-1", origin="tests")


def entry(resource_id: str, n: int = 0) -> AuditEntry:
    return new_entry(
        "payment.capture", "payment", resource_id, actor=WRITER,
        occurred_at=datetime.now(UTC), before={"status": "AUTHORIZED"}, after={"n": n},
    )  # fmt: skip


async def write(engine: AsyncEngine, resource_id: str, entries: int = 1) -> None:
    """One committed transaction of `entries` entries."""
    async with engine.begin() as conn:
        await append_audit(conn, [entry(resource_id, n) for n in range(entries)])


async def chain_of(engine: AsyncEngine) -> list[ChainedEntry]:
    verifier, broken = await verify_chain(SqlAuditReader(engine, batch_size=50).in_order())
    assert broken is None, str(broken)
    rows = [row async for row in SqlAuditReader(engine).in_order()]
    assert len(rows) == verifier.count
    return rows


async def link_everything(linker: SqlAuditLinker) -> None:
    while await linker.catch_up():
        pass


@pytest.fixture
def linker_database(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_linker") as url:
        yield url


@pytest.fixture
async def own_engine(linker_database: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(linker_database, pool_size=8)
    yield engine
    await engine.dispose()


# --- writing and linking ---------------------------------------------------------------------
async def test_entries_wait_pending_then_are_chained_in_order(own_engine: AsyncEngine) -> None:
    await write(own_engine, "p-1", entries=3)
    reader = SqlAuditReader(own_engine)
    # Readers see what is not chained yet, in the order it will be chained.
    pending = await reader.for_resource("payment", "p-1")
    assert all(isinstance(row, PendingEntry) for row in pending)
    assert [(row.entry.after or {}).get("n") for row in pending] == [0, 1, 2]
    assert await reader.count() == 0

    assert await SqlAuditLinker(own_engine).link_batch() == 3
    rows = await reader.for_resource("payment", "p-1")
    assert all(isinstance(row, ChainedEntry) for row in rows)
    assert [row.entry.id for row in rows] == [row.entry.id for row in pending]
    assert [row.seq for row in await chain_of(own_engine)] == [1, 2, 3]
    assert await reader.pending_count() == 0


async def test_concurrent_writers_on_many_connections_and_a_running_linker(
    own_engine: AsyncEngine,
) -> None:
    """8 connections write 25 transactions each (1 to 3 entries) while the linker links in
    batches of 7: every entry is chained once, each transaction's entries together and in
    order, each writer's transactions in the order it committed them."""
    linker = SqlAuditLinker(own_engine, batch_size=7)
    writing = True

    async def writer(n: int) -> None:
        for t in range(25):
            await write(own_engine, f"w{n}-t{t:02}", entries=1 + (n + t) % 3)

    async def linking() -> int:
        linked = 0
        while writing:
            linked += await linker.catch_up(max_batches=3) or 0
            await asyncio.sleep(0)  # let the writers on: the linker runs alongside them
        return linked

    linked_while_writing = asyncio.create_task(linking())
    await asyncio.gather(*(writer(n) for n in range(8)))
    writing = False
    assert await linked_while_writing > 0
    await link_everything(linker)

    rows = await chain_of(own_engine)
    written = sum(1 + (n + t) % 3 for n in range(8) for t in range(25))
    assert len(rows) == len({row.entry.id for row in rows}) == written
    for n in range(8):
        mine = [row for row in rows if row.entry.resource_id.startswith(f"w{n}-")]
        assert [row.entry.resource_id for row in mine] == sorted(r.entry.resource_id for r in mine)
        for t in range(25):
            one_tx = [row for row in mine if row.entry.resource_id == f"w{n}-t{t:02}"]
            assert [row.seq - one_tx[0].seq for row in one_tx] == list(range(len(one_tx)))
            assert [(row.entry.after or {})["n"] for row in one_tx] == list(range(len(one_tx)))


async def test_entries_appended_after_other_statements_take_the_driver_path(
    own_engine: AsyncEngine, admin_database_url: str
) -> None:
    """After the transaction's first statement the entries go straight to asyncpg: the same
    rows, and a failure there is a DBAPIError like any other (a dead connection says so)."""
    async with own_engine.begin() as conn:
        await conn.execute(text("SELECT 1"))
        await append_audit(conn, [entry("direct", 0), entry("direct", 1)])
    assert await SqlAuditLinker(own_engine).link_batch() == 2
    rows = await chain_of(own_engine)
    assert [(row.entry.after or {}).get("n") for row in rows] == [0, 1]

    admin = await asyncpg.connect(admin_database_url)
    try:
        with pytest.raises(DBAPIError) as failed:
            async with own_engine.begin() as conn:
                pid = await _backend_pid(conn)
                assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
                await append_audit(conn, [entry("lost")])
        assert is_connection_failure(failed.value)
    finally:
        await admin.close()
    assert await SqlAuditReader(own_engine).for_resource("payment", "lost") == []


async def test_an_entry_committed_after_a_later_transaction_is_not_skipped(
    own_engine: AsyncEngine,
) -> None:
    """The older transaction A writes first and commits last. While A runs, the linker links
    nothing of B (its horizon is A); once A commits, A's entry is chained before B's."""
    linker = SqlAuditLinker(own_engine)
    await write(own_engine, "before")
    async with own_engine.connect() as a:
        tx_a = await a.begin()
        await append_audit(a, [entry("older-tx")])
        await write(own_engine, "newer-tx")
        assert await linker.link_batch() == 1  # "before" only
        assert [row.entry.resource_id async for row in SqlAuditReader(own_engine).pending()] == [
            "newer-tx"
        ]
        await tx_a.commit()
    assert await linker.link_batch() == 2
    assert [row.entry.resource_id for row in await chain_of(own_engine)] == [
        "before",
        "older-tx",
        "newer-tx",
    ]


async def test_a_transaction_in_another_database_does_not_hold_the_chain_back(
    own_engine: AsyncEngine, admin_database_url: str
) -> None:
    elsewhere = await asyncpg.connect(admin_database_url)
    try:
        transaction = elsewhere.transaction()
        await transaction.start()
        await elsewhere.fetchval("SELECT pg_current_xact_id()")  # holds a transaction id
        await write(own_engine, "linked-anyway")
        assert await SqlAuditLinker(own_engine).link_batch() == 1
        await transaction.rollback()
    finally:
        await elsewhere.close()


async def test_pending_entries_are_append_only(own_engine: AsyncEngine) -> None:
    await write(own_engine, "kept")
    for statement in (
        "UPDATE audit_pending SET payload = 'edited'",
        "DELETE FROM audit_pending",
        "TRUNCATE audit_pending",
    ):
        with pytest.raises(DBAPIError, match="audit_pending is append-only"):
            async with own_engine.begin() as conn:
                await conn.execute(text(statement))
    [row] = await SqlAuditReader(own_engine).for_resource("payment", "kept")
    assert isinstance(row, PendingEntry) and row.entry.reason is None
    assert (await verify_pending(SqlAuditReader(own_engine).pending())) == (1, None)


# --- one linker at a time ----------------------------------------------------------------
async def test_two_linkers_compete_and_only_the_holder_links(linker_database: str) -> None:
    first = make_engine(linker_database, pool_size=2)
    second = make_engine(linker_database, pool_size=2)
    try:
        a = SqlAuditLinker(first, batch_size=5, name="a")
        b = SqlAuditLinker(second, batch_size=5, name="b")
        await write(first, "first")
        assert await a.link_batch() == 1  # a takes the lease
        results: dict[str, list[int | None]] = {"a": [], "b": []}

        async def keep_linking(linker: SqlAuditLinker) -> None:
            for _ in range(30):
                results[linker.name].append(await linker.link_batch())

        async def writer() -> None:
            for n in range(30):
                await write(first, f"during-{n:02}", entries=2)

        await asyncio.gather(keep_linking(a), keep_linking(b), writer())
        assert all(result is None for result in results["b"])  # a renewed its lease each time
        assert all(result is not None for result in results["a"])
        await link_everything(a)
        assert len(await chain_of(first)) == 1 + 60

        # A linker in the middle of a batch holds the lease row: the other does not wait.
        async with first.connect() as busy, busy.begin():
            await busy.execute(text("SELECT 1 FROM audit_linker_lease FOR UPDATE"))
            async with asyncio.timeout(5):
                assert await a.link_batch() is None
        # Handed back: the other takes over at once.
        assert await a.release()
        await write(first, "after-release")
        assert await b.link_batch() == 1
        assert await a.link_batch() is None
    finally:
        await first.dispose()
        await second.dispose()


async def _backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_linker_whose_connection_dies_is_taken_over(
    linker_database: str, admin_database_url: str
) -> None:
    dying_engine = make_engine(linker_database, pool_size=1)
    engine = make_engine(linker_database, pool_size=2)
    admin = await asyncpg.connect(admin_database_url)
    try:
        dying = SqlAuditLinker(dying_engine, lease_seconds=1.0, name="dying")
        survivor = SqlAuditLinker(engine, lease_seconds=1.0, name="survivor")
        await write(engine, "one")
        assert await dying.link_batch() == 1

        # Its connection dies in the middle of a batch: the lease row stays locked until
        # PostgreSQL ends the backend, the batch is rolled back, nothing half-linked.
        async with dying_engine.connect() as conn:
            pid = await _backend_pid(conn)
            await conn.commit()
            await write(engine, "two")
            mid_batch = await conn.begin()
            linked = await conn.execute(text("SELECT audit_link('dying', 1.0, 100)"))
            assert linked.scalar_one() == 1
            assert await survivor.link_batch() is None  # skips the locked row, no waiting
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
            with pytest.raises(DBAPIError):
                await mid_batch.commit()
        await write(engine, "three")

        # The survivor takes over once the dead holder's lease (renewed in its last
        # committed batch) has expired, and chains what the dead one had not.
        async def taken_over() -> bool:
            return await survivor.link_batch() is not None

        await eventually(taken_over, within=15)
        await link_everything(survivor)
        assert [row.entry.resource_id for row in await chain_of(engine)] == [
            "one",
            "two",
            "three",
        ]
        assert await dying.link_batch() is None  # back from the dead: no longer the holder
    finally:
        await admin.close()
        await dying_engine.dispose()
        await engine.dispose()


# --- the server's job and metrics ----------------------------------------------------------
async def test_the_job_links_in_the_background_reports_lag_and_hands_the_lease_back(
    own_engine: AsyncEngine,
) -> None:
    metrics = ServiceMetrics()
    await write(own_engine, "waiting", entries=2)
    await DatabaseGauges(metrics).refresh_audit_chain(own_engine)
    assert gauge(metrics, "payments_audit_chain_backlog") == 2
    assert gauge(metrics, "payments_audit_chain_lag_seconds") > 0

    job = AuditLinkJob(SqlAuditLinker(own_engine, lease_seconds=30), 0.05, metrics)
    job.start()
    try:
        reader = SqlAuditReader(own_engine)

        async def chained() -> bool:
            return await reader.count() == 2 and await reader.pending_count() == 0

        await eventually(chained, within=10)
        await write(own_engine, "later")
        await eventually(lambda: _count_is(reader, 3), within=10)
        assert gauge(metrics, "payments_audit_linker_holder") == 1
    finally:
        await job.stop()
    # Stopped: the lease is handed back (30 s otherwise), another linker links at once.
    assert gauge(metrics, "payments_audit_linker_holder") == 0
    await write(own_engine, "after-stop")
    assert await SqlAuditLinker(own_engine).link_batch() == 1
    await DatabaseGauges(metrics).refresh_audit_chain(own_engine)
    assert gauge(metrics, "payments_audit_chain_backlog") == 0
    assert gauge(metrics, "payments_audit_chain_lag_seconds") == 0


def gauge(metrics: ServiceMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


async def _count_is(reader: SqlAuditReader, count: int) -> bool:
    return await reader.count() == count


# --- the migration ---------------------------------------------------------------------------
def test_downgrade_chains_what_is_pending_and_upgrade_keeps_the_chain(
    linker_database: str,
) -> None:
    async def write_some(linked: int, pending: int) -> None:
        engine = make_engine(linker_database, pool_size=1)
        try:
            for n in range(linked):
                await write(engine, f"linked-{n}")
            await link_everything(SqlAuditLinker(engine))
            for n in range(pending):
                await write(engine, f"pending-{n}")
        finally:
            await engine.dispose()

    async def chain_length() -> int:
        engine = make_engine(linker_database, pool_size=1)
        try:
            return len(await chain_of(engine))
        finally:
            await engine.dispose()

    asyncio.run(write_some(linked=2, pending=2))
    config = alembic_config(linker_database)
    command.downgrade(config, "0016")
    assert asyncio.run(chain_length()) == 4  # chained by the downgrade, in order
    command.upgrade(config, "head")
    asyncio.run(write_some(linked=1, pending=0))
    assert asyncio.run(chain_length()) == 5
