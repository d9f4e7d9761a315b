"""What the audit trail costs a transaction: N concurrent writers commit transactions,
alternately without and with one audit entry each, against a fresh database. Rounds
alternate so that the machine's noise hits both. The linker runs all along as it does in the
service (every --link-interval seconds, on its own connection): audited transactions only
insert their entry, the linker chains committed entries in batches.

    python -m bench.audit_append [--writers 16] [--seconds 5] [--rounds 3] [--statements 3]
        [--separate-statement]

A transaction is --statements statements: 3 by default, the size of the service's audited
transactions (a payment updated under its version, a transaction row, an outbox event: here
a writer's own row updated under its version and two inserts); 1 is a single insert. As in
the service (infra/db/commit_writes.py), an audited transaction's entry rides in its last
statement (a data-modifying CTE), not in a statement of its own; --separate-statement writes
it in one of its own, as the service did before.

Reports transactions/s and commit latency of both, their ratio, how often writers were seen
waiting on a lock (sampled every 20 ms), the CPU each commit took in
this process and in its PostgreSQL backends (from /proc: on a machine where the client and
the database share the cores, CPU per commit is what sets the rate), the chain's lag seen
during the audited phases (entries waiting and the age of the oldest, sampled before each
linker run), then links what is left and verifies the chain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor, ActorKind
from domain.audit import new_entry
from domain.audit_chain import verify_chain
from infra.db.audit import SqlAuditReader, append_audit
from infra.db.audit_linker import SqlAuditLinker
from infra.db.commit_writes import AUDIT_CTE, CommitWrites
from infra.db.engine import make_engine
from server.migrate import upgrade_to_head

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "results"
ACTOR = Actor(ActorKind.SERVICE, "bench", request_id="bench", origin="bench")
INSERT = text(
    "INSERT INTO consumed_events (event_id, topic, received_at) VALUES (:id, 'bench', now())"
)
# Each writer updates its own row (no waiting on each other's row locks), under its version.
CREATE_ROWS = "CREATE TABLE bench_rows (id integer PRIMARY KEY, version bigint NOT NULL)"
UPDATE = text("UPDATE bench_rows SET version = version + 1 WHERE id = :id AND version = :v")


class Writer:
    def __init__(self, number: int) -> None:
        self.number = number
        self.version = 0


# The last insert with the entry, in one statement (as the service's commit writes them).
INSERT_WITH_ENTRY = text(
    f"WITH {AUDIT_CTE.format(where='')} "
    "INSERT INTO consumed_events (event_id, topic, received_at) VALUES (:id, 'bench', now())"
)


async def transaction(
    engine: AsyncEngine, writer: Writer, statements: int, audited: bool, *, separate: bool
) -> None:
    async with engine.connect() as conn, conn.begin():
        event_id = str(uuid.uuid4())
        if statements > 1:
            updated = await conn.execute(UPDATE, {"id": writer.number, "v": writer.version})
            assert updated.rowcount == 1
            writer.version += 1
        inserts = max(1, statements - 1)
        for n in range(inserts - 1):
            await conn.execute(INSERT, {"id": f"{event_id}-{n}"})
        last = {"id": f"{event_id}-{inserts - 1}"}
        if not audited:
            await conn.execute(INSERT, last)
            return
        entry = new_entry(
            "payment.capture", "payment", event_id, actor=ACTOR,
            occurred_at=datetime.now(UTC),
            before={"status": "AUTHORIZED"}, after={"status": "CAPTURED"},
        )  # fmt: skip
        if separate:
            await conn.execute(INSERT, last)
            await append_audit(conn, [entry])
            return
        params = CommitWrites(entries=[entry]).params()
        await conn.execute(INSERT_WITH_ENTRY, last | params)


TICKS = os.sysconf("SC_CLK_TCK")
BACKENDS = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


@dataclass
class Phase:
    latencies: list[float]
    client_cpu: float
    database_cpu: float
    lock_samples: int = 0
    lock_samples_with_waiters: int = 0
    max_lock_waiters: int = 0


async def phase(
    engine: AsyncEngine,
    args: argparse.Namespace,
    writers: list[Writer],
    audited: bool,
    waits: LockWaits,
) -> Phase:
    latencies: list[float] = []
    async with engine.connect() as conn:
        backends = list((await conn.execute(BACKENDS)).scalars())
    client, database = time.process_time(), cpu_seconds(backends)
    end = time.perf_counter() + args.seconds
    waits.reset()

    async def write(writer: Writer) -> None:
        while time.perf_counter() < end:
            started = time.perf_counter()
            await transaction(
                engine, writer, args.statements, audited, separate=args.separate_statement
            )
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(write(writer) for writer in writers))
    return Phase(
        latencies,
        time.process_time() - client,
        cpu_seconds(backends) - database,
        waits.samples,
        waits.samples_with_waiters,
        waits.max_waiters,
    )


LAG = text(
    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(inserted_at)), 0)"
    " FROM audit_pending"
)


class LinkerLoop:
    """The service's linker job in miniature, sampling the lag before each run."""

    def __init__(self, engine: AsyncEngine, interval: float) -> None:
        self.linker = SqlAuditLinker(engine)
        self._engine = engine
        self._interval = interval
        self.max_backlog = 0
        self.max_lag_s = 0.0
        self.linked = 0

    async def run(self) -> None:
        while True:
            async with self._engine.connect() as conn:
                backlog, lag = (await conn.execute(LAG)).one()
            self.max_backlog = max(self.max_backlog, int(backlog))
            self.max_lag_s = max(self.max_lag_s, float(lag))
            self.linked += await self.linker.catch_up() or 0
            await asyncio.sleep(self._interval)


WAITING_ON_LOCKS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


class LockWaits:
    """Samples, every 20 ms, how many of this database's backends wait on a lock (what the
    advisory lock of the chaining at COMMIT showed): counts reset by each phase."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.samples = 0
        self.samples_with_waiters = 0
        self.max_waiters = 0

    def reset(self) -> None:
        self.samples = self.samples_with_waiters = self.max_waiters = 0

    async def run(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            while True:
                waiting = int(await conn.fetchval(WAITING_ON_LOCKS))
                self.samples += 1
                self.samples_with_waiters += waiting > 0
                self.max_waiters = max(self.max_waiters, waiting)
                await asyncio.sleep(0.02)
        finally:
            await conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url, pool_size=args.writers)
    linker_engine = make_engine(url, pool_size=1)
    linker = LinkerLoop(linker_engine, args.link_interval)
    writers = [Writer(n) for n in range(args.writers)]
    async with engine.begin() as conn:
        await conn.execute(text(CREATE_ROWS))
        await conn.execute(
            text("INSERT INTO bench_rows SELECT n, 0 FROM generate_series(0, :last) AS n"),
            {"last": args.writers - 1},
        )
    waits = LockWaits(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    linking = asyncio.create_task(linker.run())
    sampling = asyncio.create_task(waits.run())
    try:
        warm_up = argparse.Namespace(**(vars(args) | {"seconds": 1.0}))
        await phase(engine, warm_up, writers, True, waits)  # the pool, caches, plans
        runs: dict[str, list[Phase]] = {"plain": [], "audited": []}
        for _ in range(args.rounds):
            for name in ("plain", "audited"):
                runs[name].append(await phase(engine, args, writers, name == "audited", waits))
        linking.cancel()
        sampling.cancel()
        while await linker.linker.catch_up():  # what the last run left
            pass
        reader = SqlAuditReader(engine)
        verifier, broken = await verify_chain(reader.in_order())
        pending = await reader.pending_count()
    finally:
        linking.cancel()
        sampling.cancel()
        await engine.dispose()
        await linker_engine.dispose()
    total = args.seconds * args.rounds
    result: dict[str, Any] = {
        "writers": args.writers,
        "statements_per_transaction": args.statements,
        "entry_in_its_own_statement": args.separate_statement,
        "seconds_each": total,
    }
    for name, phases in runs.items():
        values = [latency for run in phases for latency in run.latencies]
        result[name] = {
            "tx_per_s": len(values) / total,
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "client_cpu_us_per_tx": sum(run.client_cpu for run in phases) / len(values) * 1e6,
            "database_cpu_us_per_tx": sum(run.database_cpu for run in phases) / len(values) * 1e6,
            # Share of 20 ms samples in which some writer waited on a lock, and the most seen.
            "lock_wait_share": sum(run.lock_samples_with_waiters for run in phases)
            / max(1, sum(run.lock_samples for run in phases)),
            "max_lock_waiters": max(run.max_lock_waiters for run in phases),
        }
    result["audited_vs_plain_throughput"] = (
        result["audited"]["tx_per_s"] / result["plain"]["tx_per_s"]
    )
    result["chain"] = {
        "rows": verifier.count,
        "intact": broken is None,
        "left_pending": pending,
        "link_interval_s": args.link_interval,
        "max_backlog": linker.max_backlog,
        "max_lag_s": round(linker.max_lag_s, 3),
    }
    return result


async def create_database() -> str:
    name = f"bench_audit_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_append", description=__doc__)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--link-interval", type=float, default=0.5, help="seconds")
    parser.add_argument(
        "--statements",
        type=int,
        default=3,
        help="statements of each transaction, besides the entry",
    )
    parser.add_argument(
        "--separate-statement",
        action="store_true",
        help="write the entry in a statement of its own (the service's design before)",
    )
    args = parser.parse_args()
    name = asyncio.run(create_database())
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        upgrade_to_head(url)
        result = asyncio.run(measure(url, args))
    finally:
        asyncio.run(drop_database(name))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"audit-append-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
