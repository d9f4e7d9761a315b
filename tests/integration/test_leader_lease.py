"""The background lease (infra/db/leader_lease.py, server/background.py) on the real
PostgreSQL: one holder at a time, the lease freed when the holder's session ends or goes
silent, and the singleton jobs following the lease from one process's Background to
another's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine
from infra.db.leader_lease import AdvisoryLease
from server.background import Background
from tests.support.polling import eventually

# The backend holding the advisory lock of a lease key (bigint keys: classid holds the high
# 32 bits, objid the low ones).
_TERMINATE_HOLDER = text(
    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND d.datname = current_database() "
    "AND ((l.classid::int8 << 32) | l.objid::int8) = hashtextextended(:key, 0)"
)


@pytest.fixture
async def leases(database_url: str) -> AsyncIterator[list[AdvisoryLease]]:
    """Three contenders for one lease name, each on a connection of its own."""
    name = f"test-{uuid.uuid4().hex}"
    made = [
        AdvisoryLease(make_engine(database_url, pool_size=1), name, expiry_seconds=1)
        for _ in range(3)
    ]
    yield made
    for lease in made:
        await lease.close()


async def test_one_holder_at_a_time_and_the_next_once_it_lets_go(
    leases: list[AdvisoryLease],
) -> None:
    first, second, _ = leases
    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert await first.try_acquire()  # re-entrant for its own session
    await first.release()
    assert await second.try_acquire()


async def test_a_holder_whose_session_ends_loses_the_lease_to_another(
    leases: list[AdvisoryLease], engine: AsyncEngine
) -> None:
    first, second, _ = leases
    assert await first.try_acquire()
    # The holder's session ends as a killed process's would (its backend is terminated).
    async with engine.connect() as conn:
        ended = await conn.execute(_TERMINATE_HOLDER, {"key": first.key})
        assert ended.scalars().all() == [True]
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a dead session
        await first.confirm()
    assert await second.try_acquire()


async def test_a_holder_that_stops_confirming_is_cut_off_after_the_expiry(
    leases: list[AdvisoryLease],
) -> None:
    """A frozen holder (or one whose host vanished) says nothing: PostgreSQL ends its idle
    session after the expiry (1 s here), and the lease goes to the next contender."""
    frozen, waiting, _ = leases
    assert await frozen.try_acquire()
    assert not await waiting.try_acquire()

    async def taken() -> bool:
        return await waiting.try_acquire()

    await eventually(taken, within=10, interval=0.2)


class RecordingJob:
    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    def start(self) -> None:
        self.running, self.starts = True, self.starts + 1

    async def stop(self) -> None:
        self.running = False


async def test_singleton_jobs_run_in_one_background_and_move_when_it_stops(
    leases: list[AdvisoryLease],
) -> None:
    first_lease, second_lease, _ = leases
    jobs = {"a": (RecordingJob(), RecordingJob()), "b": (RecordingJob(), RecordingJob())}
    backgrounds = {
        key: Background(lease, 1.0, singletons=[singleton], everywhere=[everywhere])
        for key, lease, (singleton, everywhere) in (
            ("a", first_lease, jobs["a"]),
            ("b", second_lease, jobs["b"]),
        )
    }
    for background in backgrounds.values():
        background.start()
    try:

        async def one_leader() -> bool:
            return [b.leading for b in backgrounds.values()].count(True) == 1

        await eventually(one_leader)
        leader = next(key for key, b in backgrounds.items() if b.leading)
        other = "b" if leader == "a" else "a"
        assert jobs[leader][0].running and not jobs[other][0].running
        assert jobs["a"][1].running and jobs["b"][1].running  # everywhere

        await backgrounds[leader].stop()
        assert not jobs[leader][0].running and not jobs[leader][1].running

        async def taken_over() -> bool:
            return backgrounds[other].leading and jobs[other][0].running

        await eventually(taken_over, within=10)
        assert jobs[other][0].starts == 1
    finally:
        for background in backgrounds.values():
            await background.stop()
