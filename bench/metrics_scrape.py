"""What a Prometheus scrape of /metrics costs (server/metrics_scrape.py), against a fresh
database holding a large outbox: --published rows already sent to Kafka and --unpublished
waiting. Not on the payment path; measured so that a scrape stays cheap as tables grow.

    python -m bench.metrics_scrape [--published 200000] [--unpublished 1000] [--scrapes 200]

Prints, in milliseconds: a refresh that reads everything (the database gauges over one
connection, the pool, the breakers), a refresh inside METRICS_REFRESH_SECONDS (served from
the last reading), and rendering the text format.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from sqlalchemy import text

from bench.audit_append import create_database, drop_database
from domain.enums import GatewayName
from infra.cache.circuit import LocalCircuitBreaker
from infra.db.engine import make_engine
from server.metrics import ServiceMetrics
from server.metrics_scrape import ScrapeRefresh
from server.migrate import upgrade_to_head

FILL = text(
    "INSERT INTO outbox (id, event_type, aggregate_id, message_key, value, headers, created_at,"
    " published_at) SELECT gen_random_uuid(), 'payment.created', gen_random_uuid(), 'k',"
    " '\\x00'::bytea, '[]'::jsonb, now() - make_interval(secs => g),"
    " CASE WHEN g > :unpublished THEN now() END FROM generate_series(1, :total) g"
)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
    }


async def measure(url: str, args: argparse.Namespace) -> dict[str, object]:
    engine = make_engine(url, pool_size=4)
    try:
        async with engine.begin() as conn:
            total = args.published + args.unpublished
            await conn.execute(FILL, {"unpublished": args.unpublished, "total": total})
            await conn.execute(text("ANALYZE outbox"))
        metrics = ServiceMetrics()
        gateways = [GatewayName.SIMULATOR, GatewayName.STRIPE]
        breaker = LocalCircuitBreaker()
        every = ScrapeRefresh(
            metrics, engine, breaker=breaker, gateways=lambda: gateways, min_interval=0
        )
        cached = ScrapeRefresh(
            metrics, engine, breaker=breaker, gateways=lambda: gateways, min_interval=3600
        )
        await every()  # warm the pool
        await cached()
        timings: dict[str, list[float]] = {"refresh": [], "refresh_cached": [], "render": []}
        for _ in range(args.scrapes):
            for name, run in (("refresh", every), ("refresh_cached", cached)):
                started = time.perf_counter()
                await run()
                timings[name].append(time.perf_counter() - started)
            started = time.perf_counter()
            metrics.render()
            timings["render"].append(time.perf_counter() - started)
        backlog = metrics.registry.get_sample_value("payments_outbox_backlog")
    finally:
        await engine.dispose()
    return {
        "published_rows": args.published,
        "unpublished_rows": args.unpublished,
        "backlog_read": backlog,
        "scrapes": args.scrapes,
        **{name: _summary(samples) for name, samples in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_scrape", description=__doc__)
    parser.add_argument("--published", type=int, default=200_000)
    parser.add_argument("--unpublished", type=int, default=1_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    name = asyncio.run(create_database())
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        upgrade_to_head(url)
        print(json.dumps(asyncio.run(measure(url, args)), indent=2))
    finally:
        asyncio.run(drop_database(name))


if __name__ == "__main__":
    main()
