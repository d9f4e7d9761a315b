"""`make chaos`: under a steady load of payments against two service processes sharing one
PostgreSQL, Redis and Kafka-compatible broker - all three the suite's own, on free ports,
never the machine's shared ones - it SIGKILLs a process, restarts PostgreSQL, stops and
starts the broker, stops Redis, and injects gateway latency, errors and timeouts, one after
the other; prints the error rate during each; then checks that nothing was lost or
mis-booked (bench/chaos/verify.py). Exit status 1 when a check fails.

    python -m bench.chaos [--phase-seconds 12] [--clients 6] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.chaos.events import EventTap
from bench.chaos.load import Load, Phases
from bench.chaos.postgres import ChaosPostgres
from bench.chaos.services import TIMINGS, ServiceProcess
from bench.chaos.verify import (
    Verdict,
    check_amounts,
    check_events,
    open_operations,
    unpublished,
    until,
)
from bench.server import signing_key
from tests.support.kafka_broker import TansuBroker
from tests.support.redis_server import RedisServer

PAYMENT_EVENTS = "payment.events"
TOPICS = (PAYMENT_EVENTS, "order.events", "order.events.dlq")
SETTLE_WITHIN_S = 90.0
FAULT_FILE_RECHECK_S = 0.2  # FaultFile's default


@dataclass
class Cluster:
    directory: Path
    postgres: ChaosPostgres
    redis: RedisServer
    broker: TansuBroker
    services: list[ServiceProcess]
    faults: Path
    token: str
    tap: EventTap

    def set_faults(self, **plan: float) -> None:
        # Written whole, then renamed: a process never reads half a plan.
        staging = self.faults.with_suffix(".tmp")
        staging.write_text(json.dumps(plan))
        staging.replace(self.faults)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@contextlib.asynccontextmanager
async def cluster(directory: Path) -> AsyncIterator[Cluster]:
    postgres = ChaosPostgres(directory)
    await asyncio.to_thread(postgres.create)
    redis, broker = RedisServer(), TansuBroker()
    await redis.start()
    await broker.start(topics=TOPICS)
    auth_env, token = signing_key(directory)
    faults = directory / "faults.json"
    env = (
        auth_env
        | TIMINGS
        | {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "KAFKA_BROKERS": broker.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",  # Tansu has no InitProducerId
            "KAFKA_TOPIC_PAYMENT_EVENTS": PAYMENT_EVENTS,
            "SIMULATOR_LEDGER": "database",
            "SIMULATOR_FAULTS_FILE": str(faults),
            "APP_PORT": "0",
            "OPS_ENABLED": "false",
            "RATE_LIMIT_ENABLED": "false",
            "LOG_LEVEL": "warning",
        }
    )
    services = [ServiceProcess(name, directory, env) for name in ("service-a", "service-b")]
    tap = EventTap(broker.bootstrap, PAYMENT_EVENTS)
    try:
        await services[0].start(migrate=True)
        await services[1].start()
        await tap.start()
        yield Cluster(directory, postgres, redis, broker, services, faults, token, tap)
    finally:
        await tap.stop()
        for service in services:
            service.stop()
        broker.stop()
        redis.close()
        with contextlib.suppress(Exception):
            postgres.stop("fast")


Fault = Callable[[Cluster, Load, float], Awaitable[None]]


async def steady(c: Cluster, load: Load, seconds: float) -> None:
    await asyncio.sleep(seconds)


async def sigkill_a_process(c: Cluster, load: Load, seconds: float) -> None:
    c.services[0].kill()
    await asyncio.sleep(seconds / 3)
    await c.services[0].start()  # the crashed one comes back; its open operations wait
    await asyncio.sleep(seconds / 3)


async def restart_postgres(c: Cluster, load: Load, seconds: float) -> None:
    await asyncio.to_thread(c.postgres.stop, "immediate")  # a crash: recovery from the WAL
    await asyncio.sleep(seconds / 3)
    await asyncio.to_thread(c.postgres.start)
    await asyncio.sleep(seconds / 2)


async def stop_the_broker(c: Cluster, load: Load, seconds: float) -> None:
    """Memory storage forgets everything on a stop: the tap must have read it all first, so
    the load pauses until every committed event is on the topic and read."""
    await load.quiesce()
    conn = await asyncpg.connect(c.postgres.url)
    try:
        await until(lambda: _none(unpublished, conn), within=30)
    finally:
        await conn.close()
    await c.tap.wait_caught_up(within=30)
    await c.tap.stop()
    c.broker.stop()
    load.resume()
    await asyncio.sleep(seconds / 2)
    await c.broker.start(topics=TOPICS)
    await c.tap.start()
    await asyncio.sleep(seconds / 2)


async def stop_redis(c: Cluster, load: Load, seconds: float) -> None:
    c.redis.stop()
    await asyncio.sleep(seconds * 2 / 3)
    await c.redis.start()
    await asyncio.sleep(seconds / 3)


def gateway(**plan: float) -> Fault:
    async def inject(c: Cluster, load: Load, seconds: float) -> None:
        c.set_faults(**plan)
        await asyncio.sleep(seconds)
        c.set_faults()
        # The processes look at the file every 0.2 s: calls until they have seen it cleared
        # still belong to this fault, not to the next phase.
        await asyncio.sleep(FAULT_FILE_RECHECK_S * 2)

    return inject


PHASES: list[tuple[str, Fault]] = [
    ("steady (no fault)", steady),
    ("SIGKILL service-a, restart", sigkill_a_process),
    ("PostgreSQL restart", restart_postgres),
    ("broker stop/start", stop_the_broker),
    ("Redis stopped", stop_redis),
    ("gateway latency 600 ms", gateway(latency_ms=600)),
    ("gateway errors 30 %", gateway(unavailable=0.3)),
    ("gateway timeouts 25 %", gateway(timeout_before=0.1, timeout_after=0.15)),
    ("recovery (no fault)", steady),
]


async def _none(
    count: Callable[[asyncpg.Connection], Awaitable[int]], conn: asyncpg.Connection
) -> bool:
    return await count(conn) == 0


def error_rates(phases: Phases) -> list[str]:
    lines = [
        f"  {'phase':<30} {'seconds':>7} {'calls':>7} {'errors':>7} {'rate':>7} "
        f"{'payments':>9}  errors by call"
    ]
    for name, counts in phases.counts.items():
        if name == "warm-up":
            continue
        seconds = (counts.ended or time.monotonic()) - counts.started
        rate = counts.error_count / counts.calls if counts.calls else 0.0
        top = ", ".join(f"{k} {n}" for k, n in counts.errors.most_common(3))
        lines.append(
            f"  {name:<30} {seconds:>7.1f} {counts.calls:>7} {counts.error_count:>7} "
            f"{rate:>6.1%} {counts.lifecycles:>9}  {top}"
        )
    return lines


async def verify(c: Cluster) -> Verdict:
    verdict = Verdict()
    conn = await asyncpg.connect(c.postgres.url)
    try:
        settled = await until(lambda: _none(open_operations, conn), within=SETTLE_WITHIN_S)
        left = await open_operations(conn)
        verdict.check(settled, f"open operations: {left} left after the reconciler's passes")
        await until(lambda: _none(unpublished, conn), within=60)
        await c.tap.wait_caught_up(within=30)
        await check_amounts(conn, verdict)
        await check_events(conn, c.tap.seen, verdict)
    finally:
        await conn.close()
    return verdict


async def run(args: argparse.Namespace, directory: Path) -> int:
    started = time.monotonic()
    log(f"starting PostgreSQL, Redis, Tansu and two services in {directory}")
    async with cluster(directory) as c:
        log(
            f"services on {c.services[0].target} and {c.services[1].target}; "
            f"load: {args.clients} clients"
        )
        load = Load([s.target for s in c.services], c.token, args.clients)
        load.start()
        for name, fault in PHASES:
            load.phases.enter(name)
            log(f"phase: {name}")
            await fault(c, load, args.phase_seconds)
        await load.stop()
        log("load stopped; waiting for the service to settle, then verifying")
        verdict = await verify(c)
    print("\nerror rate during each fault:")
    print("\n".join(error_rates(load.phases)))
    print("\nafterwards:")
    print("\n".join(verdict.lines))
    print(f"\nchaos run took {time.monotonic() - started:.0f} s: "
          f"{'FAILED' if verdict.failures else 'passed'}")  # fmt: skip
    return 1 if verdict.failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--phase-seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (logs)")
    args = parser.parse_args()
    # The broker is stopped on purpose: the tap's reconnection attempts are not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    directory = args.keep or Path(tempfile.mkdtemp(prefix="chaos-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        status = asyncio.run(run(args, directory))
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
