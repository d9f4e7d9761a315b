"""Background jobs of the service: each runs at start and then every `interval` seconds,
logs its failures, and never stops the server. One process at a time runs them, the holder of
the background lease (server/background.py); each is safe to run concurrently all the same
(row locks and idempotent deletes), for the moment two processes may both believe they hold
it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from domain.ports import Clock
from domain.retention import RetentionPolicy, RetentionStore, enforce_retention
from domain.usecases.deps import Deps
from domain.usecases.fx import refresh_rates
from domain.usecases.reconcile import Reconciler
from domain.usecases.retry_worker import RetryWorker
from infra.db.idempotency import SqlIdempotencyStore
from infra.fx.ecb import EcbRateFeed
from infra.messaging.relay import OutboxRelay

log = logging.getLogger("payments.jobs")


class PeriodicJob:
    def __init__(self, name: str, interval: float, run: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._interval = interval
        self._run = run
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                result = await self._run()
                if result:
                    log.info("%s: %s", self.name, result, extra={"job": self.name})
            except Exception:
                log.exception("%s failed; next run in %ss", self.name, self._interval)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def reconciler_job(reconciler: Reconciler, interval: float) -> PeriodicJob:
    async def run() -> str:
        settled = await reconciler.run_once()
        return f"settled {settled} open operations" if settled else ""

    return PeriodicJob("reconciler", interval, run)


def retry_job(worker: RetryWorker, interval: float) -> PeriodicJob:
    async def run() -> str:
        taken = await worker.run_once()
        return f"ran {taken} scheduled retries" if taken else ""

    return PeriodicJob("retries", interval, run)


def idempotency_purge_job(
    store: SqlIdempotencyStore, clock: Clock, retention: timedelta, interval: float
) -> PeriodicJob:
    async def run() -> str:
        purged = await store.purge(clock.now() - retention)
        return f"purged {purged} idempotency keys" if purged else ""

    return PeriodicJob("idempotency-purge", interval, run)


def outbox_purge_job(
    relay: OutboxRelay, clock: Clock, retention: timedelta, interval: float
) -> PeriodicJob:
    async def run() -> str:
        purged = await relay.purge(clock.now() - retention)
        return f"purged {purged} published outbox events" if purged else ""

    return PeriodicJob("outbox-purge", interval, run)


def retention_job(
    store: RetentionStore, policy: RetentionPolicy, clock: Clock, interval: float
) -> PeriodicJob:
    async def run() -> str:
        report = await enforce_retention(policy, store, clock.now())
        return str(report) if report else ""

    return PeriodicJob("retention", interval, run)


# The daily document is small: a feed slower than this is treated as down until the next run.
FX_FETCH_TIMEOUT_SECONDS = 20.0


def fx_refresh_job(
    url: str, deps: Callable[[], Deps], clock: Clock, interval: float
) -> PeriodicJob:
    """Fetches the ECB reference rates and stores the new ones. A failed fetch changes no rate:
    the stored ones stay in use until FX_MAX_RATE_AGE makes them unusable."""

    async def run() -> str:
        try:
            async with httpx.AsyncClient(timeout=FX_FETCH_TIMEOUT_SECONDS) as client:
                stored = await refresh_rates(EcbRateFeed(client, url, clock), deps())
        except httpx.HTTPError as unreachable:
            # Expected when the feed cannot be reached (a machine without internet, an ECB
            # outage): one line, not a traceback; admin-set rates keep working meanwhile.
            log.warning(
                "fx-refresh: the ECB feed could not be read (%s); next try in %ss",
                type(unreachable).__name__,
                interval,
                extra={"job": "fx-refresh"},
            )
            return ""
        return f"stored {stored} ECB reference rates" if stored else ""

    return PeriodicJob("fx-refresh", interval, run)
