"""Replicas that migrate at once never race: `payment-service migrate` takes a session-level
advisory lock around `alembic upgrade` (infra/db/migration_lock.py). Two processes started
on a fresh database while the test holds that lock both wait for it (each says so); once it
is released both exit 0 and the schema is at head - migration 0021's CREATE INDEX
CONCURRENTLY included, which a waiter blocked inside a statement would deadlock."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra.db.migration_lock import MIGRATION_LOCK_NAME
from infra.db.tables import metadata
from server.migrate import head_revisions
from tests.support import databases
from tests.support.server_process import PAYMENT_SERVICE

WAITING = b"waiting for another migration to finish"


@pytest.fixture
async def fresh_database(admin_database_url: str) -> AsyncIterator[str]:
    """libpq URL of a new, empty database."""
    name = await asyncio.to_thread(databases.create_database, admin_database_url, "payments_lock")
    yield databases.with_database(admin_database_url, name)
    await asyncio.to_thread(databases.drop_database, admin_database_url, name)


async def _migrate(url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": url}
    return await asyncio.create_subprocess_exec(
        PAYMENT_SERVICE, "migrate", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def test_concurrent_migrations_wait_for_each_other(fresh_database: str) -> None:
    holder = await asyncpg.connect(fresh_database)
    processes: list[asyncio.subprocess.Process] = []
    try:
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))", MIGRATION_LOCK_NAME
        )
        processes = [await _migrate(fresh_database), await _migrate(fresh_database)]
        outputs: list[bytes] = [b"", b""]

        async def said_waiting(index: int) -> None:
            stream = processes[index].stdout
            assert stream is not None
            while WAITING not in outputs[index]:
                line = await stream.readline()
                assert line, outputs[index].decode(errors="replace")[-3000:]  # exited instead
                outputs[index] += line

        await asyncio.wait_for(asyncio.gather(said_waiting(0), said_waiting(1)), 60)
        # Nothing migrated while they wait: the lock is taken before alembic reads a version.
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        assert await holder.fetchval(tables) == 0

        await holder.execute(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))", MIGRATION_LOCK_NAME
        )
        ended = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), 120
        )
        for process, before, (output, _) in zip(processes, outputs, ended, strict=True):
            assert process.returncode == 0, (before + output).decode(errors="replace")[-3000:]
        versions = {row[0] for row in await holder.fetch("SELECT version_num FROM alembic_version")}
        assert versions == head_revisions()
        names = {
            row[0]
            for row in await holder.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        assert set(metadata.tables) <= names
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await holder.close()
