"""The background work of one process, and where each job runs, decided per job:

- order events consumer: in every worker. It is a Kafka consumer group: the broker shares
  the partitions out, and hands a dead member's partitions to the others after its session
  timeout.
- outbox relay: in the lease holder only. Rows are claimed FOR UPDATE SKIP LOCKED, so two
  relays would still be correct; one relay makes full batches with one poller instead of
  workers x replicas pollers (and fewer chains of one key blocked behind another's rows).
- reconciler: the lease holder. Two would both ask the gateway about the same operation.
- retries: the lease holder. Claimed SKIP LOCKED (safe anyway); one poller is enough.
- idempotency purge, outbox purge, retention: the lease holder. Idempotent deletes: one
  deleter instead of N contending for the same rows.
- the audit chain linker (to come): the lease holder, one linker at a time.
- analytics projector: the lease holder. Rows are claimed FOR UPDATE SKIP LOCKED and marked
  in the transaction that counts them, so two would still count each event once; one makes
  full batches. It runs with or without Kafka: it reads the outbox, not the topic.

The lease (infra/db/leader_lease.py) is one PostgreSQL session lock per BACKGROUND_LEASE_NAME:
the holder runs the singleton jobs, the others try for it every fifth of
BACKGROUND_LEASE_SECONDS, so a killed holder's jobs resume elsewhere within that. Nothing is
lost meanwhile: the work waits in PostgreSQL (outbox rows, open operations, due retries).
A holder that was frozen past the expiry runs its jobs until its next check fails; the jobs
stay correct when two run at once (row locks), the lease only saves the duplicate effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import SYSTEM, Actor
from domain.retention import RetentionPolicy
from domain.usecases.deps import Deps
from domain.usecases.reconcile import Reconciler
from domain.usecases.retry_worker import RetryWorker
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.leader_lease import AdvisoryLease
from infra.db.retention import SqlRetentionStore
from infra.messaging.consumer import OrderEventsConsumer
from infra.system import SystemClock
from server.config import Settings
from server.jobs import (
    fx_refresh_job,
    idempotency_purge_job,
    outbox_purge_job,
    reconciler_job,
    retention_job,
    retry_job,
)
from server.messaging import build_analytics_projector, build_order_consumer, build_outbox_relay
from server.metrics import ServiceMetrics
from server.transport import database_ssl

log = logging.getLogger("payments.background")


class Job(Protocol):
    """Started in the running loop, stopped (and startable again) on demand."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        webhook_payloads=timedelta(days=settings.webhook_payload_retention_days),
        personal_data=timedelta(days=settings.personal_data_retention_days),
        audit_log=timedelta(days=settings.audit_retention_days),
        batch_size=settings.retention_batch_size,
    )


class JobWiring:
    """Builds the service's jobs from the settings; building starts nothing."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        metrics: ServiceMetrics,
        deps: Callable[[Actor], Deps],
        tracer: Tracer | None = None,
    ) -> None:
        self._settings, self._engine, self._metrics, self._deps = settings, engine, metrics, deps
        # Tracing on: the relay's publishes and the consumer's handling are spans.
        self._tracer = tracer
        # Once order_events() built it: its lag is scraped (server/metrics_scrape.py).
        self.order_consumer: OrderEventsConsumer | None = None

    def housekeeping(self, store: SqlIdempotencyStore) -> list[Job]:
        s, clock = self._settings, SystemClock()
        reconciler = Reconciler(self._deps, timedelta(seconds=s.reconcile_after_seconds))
        return [
            reconciler_job(reconciler, s.reconcile_interval_seconds),
            retry_job(
                RetryWorker(self._deps, on_outcome=self._count_retry),
                s.retry_poll_interval_seconds,
            ),
            idempotency_purge_job(
                store,
                clock,
                timedelta(hours=s.idempotency_retention_hours),
                s.idempotency_purge_interval_seconds,
            ),
            retention_job(
                SqlRetentionStore(self._engine),
                retention_policy(s),
                clock,
                s.retention_interval_seconds,
            ),
        ]

    def _count_retry(self, outcome: str) -> None:
        self._metrics.oncall.retries_run.labels(outcome=outcome).inc()

    def fx_rates(self) -> list[Job]:
        """The ECB feed's refresh; none when FX_ECB_URL is empty (rates set by admins only)."""
        s = self._settings
        if not s.fx_ecb_url:
            return []
        return [
            fx_refresh_job(
                s.fx_ecb_url,
                lambda: self._deps(SYSTEM),
                SystemClock(),
                s.fx_refresh_interval_seconds,
            )
        ]

    def outbox(self) -> list[Job]:
        """The relay and the purge of what it published; none without Kafka (events wait)."""
        s = self._settings
        if not s.kafka_configured:
            return []
        relay = build_outbox_relay(s, self._engine, self._metrics, self._tracer)
        retention = timedelta(hours=s.outbox_retention_hours)
        purge = outbox_purge_job(
            relay, SystemClock(), retention, s.idempotency_purge_interval_seconds
        )
        return [relay, purge]

    def analytics(self) -> list[Job]:
        return [build_analytics_projector(self._settings, self._engine, self._metrics)]

    def order_events(self) -> list[Job]:
        if not self._settings.kafka_configured:
            return []
        dead_lettered = self._metrics.oncall.dead_lettered
        self.order_consumer = build_order_consumer(
            self._settings,
            self._deps,
            self._tracer,
            on_dead_letter=lambda topic: dead_lettered.labels(topic=topic).inc(),
        )
        return [self.order_consumer]


def leader_lease(settings: Settings, database_url: str) -> AdvisoryLease:
    # One connection of its own (server/db_budget.py counts it): the lock lives with it.
    engine = make_engine(database_url, pool_size=1, ssl=database_ssl(settings))
    return AdvisoryLease(engine, settings.background_lease_name, settings.background_lease_seconds)


class Background:
    """Runs `everywhere` from start to stop, and `singletons` while this process holds the
    lease (started when it takes it, stopped when it loses it)."""

    def __init__(
        self,
        lease: AdvisoryLease,
        lease_seconds: float,
        *,
        singletons: Sequence[Job],
        everywhere: Sequence[Job],
        on_leader: Callable[[bool], object] = lambda _leading: None,
    ) -> None:
        self._lease = lease
        self._interval = lease_seconds / 5
        # A check slower than the expiry finds the session ended anyway.
        self._timeout = lease_seconds
        self._singletons = list(singletons)
        self._everywhere = list(everywhere)
        self._on_leader = on_leader
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for job in self._everywhere:
            job.start()
        self._task = asyncio.create_task(self._elect(), name="background-lease")

    async def _elect(self) -> None:
        while True:
            await self._check()
            await asyncio.sleep(self._interval)

    async def _check(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                if self.leading:
                    await self._lease.confirm()
                elif await self._lease.try_acquire():
                    self._lead()
        except Exception as exc:
            if self.leading:
                log.warning("lost the background lease (%s): singleton jobs stop here",
                            type(exc).__name__)  # fmt: skip
            await self._follow()
            await self._lease.release()

    def _lead(self) -> None:
        log.info("holding the background lease: singleton jobs run in this process")
        self.leading = True
        self._on_leader(True)
        for job in self._singletons:
            job.start()

    async def _follow(self) -> None:
        if self.leading:
            self.leading = False
            self._on_leader(False)
            for job in self._singletons:
                await job.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._follow()
        await self._lease.close()
        for job in self._everywhere:
            await job.stop()
