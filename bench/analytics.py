"""What analytics cost and how fast they answer: `make bench-analytics`
(python -m bench.analytics), against a database of its own.

1. Seeds --payments payments (1,000,000) over --days days (90) with INSERT ... SELECT
   generate_series: the payments table itself (its status-count trigger off during the seed,
   the counts then taken in one scan, as migration 0026 does) and the buckets those
   payments' events would have made (hour rows, slices and day rows, aggregated in SQL:
   what the projector writes).
2. GetPaymentStats over 30 days by day (ungrouped, by one dimension, by two and by three):
   p50/p95/p99 of the reader's query (the RPC's only I/O), over --queries calls each; and
   payments_by_status read from the kept counts against the old GROUP BY over payments.
3. The cost to the payment path: --writers concurrent writers commit lifecycle-like
   transactions (a payment inserted with an outbox row, then authorized and captured, each
   an update of its status with an outbox row) in alternating rounds: with neither the
   status-count trigger nor the projector, with the trigger only, with the projector only
   (counting the new outbox rows as they commit, as in the service), with both. Reports
   lifecycles/s of each and the cost of each against the first; then the projector's own
   rate on a backlog. These lifecycles are three bare transactions, far cheaper than the
   service's (gRPC, gateway calls, rendering): the same absolute cost is a larger share here
   than in `make bench`.

Prints the figures as JSON and writes them under bench/results/. Targets (issue 15): p95 of
GetPaymentStats 30 days by day <= 50 ms; cost to the lifecycle throughput <= 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.analytics import Granularity, Period, StatsDimension, period_of
from infra.currency import iso4217_catalog
from infra.db.analytics_fold import GROUPINGS, PAYMENT_FIGURES, SLICED
from infra.db.analytics_projector import AnalyticsProjector
from infra.db.analytics_reader import SqlAnalyticsReader, combinations_query, slices_query
from infra.db.engine import make_engine
from infra.db.tables import STATUS_COUNT_COLUMNS
from server.events_wire import EventRenderer
from server.migrate import upgrade_to_head

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "results"
RENDER = EventRenderer("/bench", iso4217_catalog().exponent)
# The projector's own rate is measured on the events of this many lifecycles.
BACKLOG_LIFECYCLES = 2000

# n -> a payment: its hour in the period, gateway, method, currency, country and outcome
# (70 % captured, 10 % authorized only, 20 % failed with one of 5 codes; 5 % retried).
_SYNTHETIC = """
SELECT n,
  CAST(:start AS timestamptz)
    + (abs(hashint8extended(n, 1)) % (CAST(:days AS int) * 24)) * interval '1 hour' AS hour,
  (ARRAY['SIMULATOR','STRIPE','PAYPAL'])[1 + abs(hashint8extended(n, 3)) % 3] AS gateway,
  (ARRAY['CREDIT_CARD','DEBIT_CARD','PAYPAL'])[1 + abs(hashint8extended(n, 4)) % 3] AS method,
  (ARRAY['EUR','USD','GBP','JPY','SEK'])[1 + abs(hashint8extended(n, 5)) % 5] AS currency,
  (ARRAY['DE','FR','US','GB','JP','SE','NL','ES','IT','PL'])[1 + abs(hashint8extended(n, 6)) % 10]
    AS country,
  CASE WHEN n % 10 < 7 THEN 'CAPTURED' WHEN n % 10 < 8 THEN 'AUTHORIZED' ELSE 'FAILED' END
    AS status,
  (ARRAY['CARD_DECLINED','INSUFFICIENT_FUNDS','EXPIRED_CARD','INCORRECT_CVC',
         'PROCESSING_ERROR'])[1 + abs(hashint8extended(n, 7)) % 5] AS failure_code,
  n % 20 = 0 AS retried,
  1000 + (n % 9000) AS amount
FROM generate_series(1, CAST(:payments AS bigint)) AS n
"""
SEED_PAYMENTS = text(
    "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
    " payment_method_type, gateway, country, authorized_minor, captured_minor, retry_count,"
    " created_at, updated_at)"
    " SELECT md5('p' || n)::uuid, md5('o' || n)::uuid, md5('u' || (n % 50000))::uuid, amount,"
    " currency, status, method, gateway, country,"
    " CASE WHEN status = 'FAILED' THEN 0 ELSE amount END,"
    " CASE WHEN status = 'CAPTURED' THEN amount ELSE 0 END,"
    " CASE WHEN retried THEN 1 ELSE 0 END, hour, hour"
    f" FROM ({_SYNTHETIC}) AS s"
)
SEED_BUCKETS = text(
    "INSERT INTO analytics_payment_hours SELECT hour, gateway, method, currency, country,"
    " CASE WHEN status = 'FAILED' THEN failure_code ELSE '' END,"
    " count(*), count(*) FILTER (WHERE status <> 'FAILED'),"
    " count(*) FILTER (WHERE status = 'CAPTURED'), count(*) FILTER (WHERE status = 'FAILED'),"
    " count(*) FILTER (WHERE retried),"
    " count(*) FILTER (WHERE retried AND status <> 'FAILED')"
    f" FROM ({_SYNTHETIC}) AS s GROUP BY 1, 2, 3, 4, 5, 6"
)
_SUMS = ", ".join(f"sum({f})" for f in PAYMENT_FIGURES)


def seed_slices() -> list[Any]:
    """The slices of the seeded combinations, as the projector adds them."""
    statements = []
    for span, bucket in (("h", "hour"), ("d", "date_trunc('day', hour, 'UTC')")):
        for dimension in ("", *SLICED):
            value = dimension or "''"
            statements.append(
                text(
                    f"INSERT INTO analytics_payment_slices SELECT '{span}', '{dimension}',"
                    f" {bucket}, {value}, failure_code, {_SUMS}"
                    " FROM analytics_payment_hours GROUP BY 3, 4, 5"
                )
            )
    return statements


def seed_days() -> list[Any]:
    """The day rows of every grouping of two dimensions or more, as the projector adds
    them."""
    statements = []
    for kept in GROUPINGS:
        name = ",".join(SLICED[i] for i in kept)
        columns = ", ".join(d if i in kept else "''" for i, d in enumerate(SLICED))
        by = ", ".join(d for i, d in enumerate(SLICED) if i in kept)
        statements.append(
            text(
                f"INSERT INTO analytics_payment_days SELECT '{name}',"
                f" date_trunc('day', hour, 'UTC') AS day, {columns}, failure_code, {_SUMS}"
                f" FROM analytics_payment_hours GROUP BY day, {by}, failure_code"
            )
        )
    return statements


SEED_REVENUE = text(
    "INSERT INTO analytics_revenue_hours (hour, basis, currency, captured_minor)"
    " SELECT hour, 'payment', currency,"
    " coalesce(sum(amount) FILTER (WHERE status = 'CAPTURED'), 0)"
    f" FROM ({_SYNTHETIC}) AS s GROUP BY 1, 3"
)
# As migration 0026 seeds them: shard 0 takes what payments hold.
SEED_COUNTS = text(
    "UPDATE payment_status_counts SET "
    + ", ".join(f"{c} = held.{c}" for c in STATUS_COUNT_COLUMNS)
    + " FROM (SELECT "
    + ", ".join(
        f"count(*) FILTER (WHERE status = '{c.upper()}') AS {c}" for c in STATUS_COUNT_COLUMNS
    )
    + " FROM payments) AS held WHERE shard = 0"
)
PLAIN_INDEXES = text(
    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'payments'"
    " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
)
OLD_SCRAPE = text("SELECT status, count(*) FROM payments GROUP BY status")
NEW_SCRAPE = text(
    "SELECT "
    + ", ".join(f"sum({c})::bigint" for c in STATUS_COUNT_COLUMNS)
    + " FROM payment_status_counts"
)

# The payment path in miniature: three transactions per payment, each with an outbox row.
_INSERT_PAYMENT = text(
    "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
    " payment_method_type, gateway, country, created_at, updated_at)"
    " VALUES (:id, :order, :user, 1000, 'EUR', 'PENDING', 'CREDIT_CARD', 'SIMULATOR', 'DE',"
    " now(), now())"
)
_MOVE = text("UPDATE payments SET status = :status, updated_at = now() WHERE id = :id")
_OUTBOX = text(
    "INSERT INTO outbox (id, event_type, aggregate_id, message_key, value, headers, created_at)"
    " VALUES (:oid, :type, CAST(:id AS uuid), :id, :value, '[]', now())"
)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "calls": len(ordered)}


async def _timed(call: Any, times: int) -> dict[str, float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


async def seed(engine: AsyncEngine, args: argparse.Namespace, start: datetime) -> dict[str, Any]:
    params = {"start": start, "days": args.days, "payments": args.payments}
    began = time.perf_counter()
    async with engine.begin() as conn:
        # Indexes built once after the rows rather than maintained row by row (constraints'
        # indexes stay).
        indexes = list((await conn.execute(PLAIN_INDEXES)).all())
        for name, _definition in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
        await conn.execute(text("ALTER TABLE payments DISABLE TRIGGER USER"))
        await conn.execute(SEED_PAYMENTS, params)
        await conn.execute(text("ALTER TABLE payments ENABLE TRIGGER USER"))
        for _name, definition in indexes:
            await conn.execute(text(definition))
        await conn.execute(SEED_COUNTS)
    payments_s = time.perf_counter() - began
    began = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(SEED_BUCKETS, params)
        for statement in (*seed_slices(), *seed_days()):
            await conn.execute(statement)
        await conn.execute(SEED_REVENUE, params)
    buckets_s = time.perf_counter() - began
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        rows = await conn.scalar(text("SELECT count(*) FROM analytics_payment_hours"))
        day_rows = await conn.scalar(text("SELECT count(*) FROM analytics_payment_days"))
    return {
        "payments": args.payments,
        "days": args.days,
        "seed_payments_s": round(payments_s, 1),
        "seed_buckets_s": round(buckets_s, 1),
        "bucket_rows": rows,
        "day_rows": day_rows,
    }


async def queries(engine: AsyncEngine, args: argparse.Namespace, end: datetime) -> dict[str, Any]:
    reader = SqlAnalyticsReader(engine)
    period = period_of(end - timedelta(days=30), end, Granularity.DAY)
    figures: dict[str, Any] = {}
    for name, group in (
        ("payment_stats_30d_by_day", ()),
        ("payment_stats_30d_by_day_by_gateway", (StatsDimension.GATEWAY,)),
        ("payment_stats_30d_by_day_by_country", (StatsDimension.COUNTRY,)),
        ("payment_stats_30d_by_day_by_failure_code", (StatsDimension.FAILURE_CODE,)),
        # Two dimensions or more: the day rows of the grouping.
        (
            "payment_stats_30d_by_day_by_gateway_and_currency",
            (StatsDimension.GATEWAY, StatsDimension.CURRENCY),
        ),
        (
            "payment_stats_30d_by_day_by_gateway_currency_and_country",
            (StatsDimension.GATEWAY, StatsDimension.CURRENCY, StatsDimension.COUNTRY),
        ),
    ):
        await reader.payment_stats(period, group)  # warm
        figures[name] = await _timed(
            lambda g=group: reader.payment_stats(period, g),
            args.queries,
        )
    # The same two-dimension report from every combination's hour rows (before the day
    # rows): the comparison, and a check that both give the same figures.
    pair = (StatsDimension.GATEWAY, StatsDimension.CURRENCY)
    from_hours = combinations_query(period, pair)
    figures["payment_stats_30d_by_day_by_gateway_and_currency_from_hour_rows"] = await _timed(
        lambda: reader.report_of(from_hours, pair), max(10, args.queries // 4)
    )
    figures["day_rows_equal_hour_rows"] = await reader.payment_stats(
        period, pair
    ) == await reader.report_of(from_hours, pair)
    figures["revenue_30d_by_day"] = await _timed(lambda: reader.revenue(period), args.queries)

    async def select_one() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # The machine's floor: a round trip that reads nothing (the machine is shared).
    figures["select_1_round_trip"] = await _timed(select_one, args.queries)
    figures["payment_stats_30d_by_day_server_ms"] = await _server_time(engine, period)
    report = await reader.payment_stats(period, ())
    figures["payment_stats_30d_attempts"] = report.total.attempts

    async def scrape(statement: Any) -> None:
        async with engine.connect() as conn:
            await conn.execute(statement)

    figures["payments_by_status_old_scan"] = await _timed(lambda: scrape(OLD_SCRAPE), 5)
    figures["payments_by_status_kept_counts"] = await _timed(lambda: scrape(NEW_SCRAPE), 50)
    return figures


async def _server_time(engine: AsyncEngine, period: Period) -> float:
    """PostgreSQL's own execution time of the ungrouped 30-day query (EXPLAIN ANALYZE)."""
    query = slices_query(period, ())
    assert query is not None
    compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as conn:
        plan: Any = (
            await conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}"))
        ).scalar_one()
    return float(plan[0]["Execution Time"])


async def lifecycle(engine: AsyncEngine) -> None:
    pid = str(uuid.uuid4())
    steps = (("PENDING", "payment.requires_review"), ("AUTHORIZED", "payment.authorized"),
             ("CAPTURED", "payment.successful"))  # fmt: skip
    for status, event in steps:
        async with engine.begin() as conn:
            if status == "PENDING":
                ids = {"id": pid, "order": str(uuid.uuid4()), "user": str(uuid.uuid4())}
                await conn.execute(_INSERT_PAYMENT, ids)
            else:
                await conn.execute(_MOVE, {"id": pid, "status": status})
            value = json.dumps({"timestamp": datetime.now(UTC).isoformat(), "amountMinor": 1000,
                                "currency": "EUR"}).encode()  # fmt: skip
            await conn.execute(
                _OUTBOX, {"oid": str(uuid.uuid4()), "type": event, "id": pid, "value": value}
            )


async def _set_trigger(engine: AsyncEngine, on: bool) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(f"ALTER TABLE payments {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
        )


async def write_phase(
    engine: AsyncEngine, args: argparse.Namespace, *, trigger: bool, projector_runs: bool
) -> float:
    """Lifecycles per second of --writers writers for --seconds."""
    await _set_trigger(engine, trigger)
    # As the service runs it (ANALYTICS_POLL_INTERVAL_SECONDS, ANALYTICS_BATCH_SIZE).
    projector = AnalyticsProjector(engine, RENDER, batch_size=500, poll_interval=1.0)
    if projector_runs:
        projector.start()
    done = 0
    end = time.perf_counter() + args.seconds

    async def writer() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await lifecycle(engine)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(args.writers)))
    elapsed = time.perf_counter() - started
    await projector.stop()
    async with engine.begin() as conn:  # the next phase starts with no backlog
        await conn.execute(
            text("UPDATE outbox SET projected_at = now() WHERE projected_at IS NULL")
        )
    return done / elapsed


async def cost(engine: AsyncEngine, args: argparse.Namespace) -> dict[str, Any]:
    phases = {
        "without": (False, False),
        "trigger_only": (True, False),
        "projector_only": (False, True),
        "with_trigger_and_projector": (True, True),
    }
    rounds: dict[str, list[float]] = {name: [] for name in phases}
    for _ in range(args.rounds):
        for name, (trigger, projector_runs) in phases.items():
            rate = await write_phase(engine, args, trigger=trigger, projector_runs=projector_runs)
            rounds[name].append(rate)
    medians = {name: statistics.median(rates) for name, rates in rounds.items()}
    base, loaded = medians["without"], medians["with_trigger_and_projector"]
    # The projector's own rate: a backlog of lifecycles' events, drained.
    await _set_trigger(engine, True)
    per_writer = BACKLOG_LIFECYCLES // args.writers

    async def backlog() -> None:
        for _ in range(per_writer):
            await lifecycle(engine)

    await asyncio.gather(*(backlog() for _ in range(args.writers)))
    projector = AnalyticsProjector(engine, RENDER)
    began, projected = time.perf_counter(), 0
    while count := await projector.project_once():
        projected += count
    return {
        "writers": args.writers,
        "lifecycles_per_s_median": {name: round(rate, 1) for name, rate in medians.items()},
        "rounds": {name: [round(v, 1) for v in rates] for name, rates in rounds.items()},
        "cost_percent": round((1 - loaded / base) * 100, 1),
        "cost_percent_trigger_only": round((1 - medians["trigger_only"] / base) * 100, 1),
        "cost_percent_projector_only": round((1 - medians["projector_only"] / base) * 100, 1),
        "projector_events_per_s": round(projected / (time.perf_counter() - began)),
    }


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url, pool_size=args.writers + 2)
    try:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=args.days)
        result: dict[str, Any] = {"seed": await seed(engine, args, start)}
        result["queries"] = await queries(engine, args, end)
        result["payment_path"] = await cost(engine, args)
        return result
    finally:
        await engine.dispose()


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = f"bench_analytics_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        upgrade_to_head(url)
        result = asyncio.run(measure(url, args))
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"analytics-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
