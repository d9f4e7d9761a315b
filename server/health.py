"""grpc.health.v1 status that follows the database: NOT_SERVING while it is unreachable.
Optional components (Redis) are reported under their own name only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("payments.health")

SERVICES = (
    "",
    "payments.v1.PaymentService",
    "payments.v1.PaymentMethodService",
    "payments.v1.FxService",
    "payments.v1.DisputeService",
)


class DatabaseHealthWatcher:
    def __init__(
        self, health: health_aio.HealthServicer, engine: AsyncEngine, interval: float
    ) -> None:
        self._health = health
        self._engine = engine
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.serving: bool | None = None

    async def check_once(self) -> bool:
        try:
            async with asyncio.timeout(max(self._interval, 1.0)):
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            healthy = True
        except Exception as exc:  # any failure to reach the database counts as unhealthy
            healthy = False
            if self.serving is not False:
                log.warning("database unreachable: %s", type(exc).__name__)
        if healthy != self.serving:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if healthy
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for service in SERVICES:
                await self._health.set(service, status)
            if healthy and self.serving is False:
                log.info("database reachable again")
            self.serving = healthy
        return healthy

    async def _run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="db-health-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ComponentHealthWatcher:
    """Reports an optional component (Redis) under its own service name. It never touches the
    overall "" status: the service stays correct, only slower, while the component is down."""

    def __init__(
        self,
        health: health_aio.HealthServicer,
        service: str,
        probe: Callable[[], Awaitable[bool]],
        interval: float,
    ) -> None:
        self._health = health
        self._service = service
        self._probe = probe
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.serving: bool | None = None

    async def check_once(self) -> bool:
        healthy = await self._probe()
        if healthy != self.serving:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if healthy
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await self._health.set(self._service, status)
            if not healthy:
                log.warning("%s unreachable: running without it", self._service)
            elif self.serving is False:
                log.info("%s reachable again", self._service)
            self.serving = healthy
        return healthy

    async def _run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-health-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
