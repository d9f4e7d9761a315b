"""The background job that links the audit chain (infra/db/audit_linker.py): a job of its own
so that whatever starts the service's jobs (one process, or one worker of several) starts it
with one call, `audit_link_job(...).start()`.

Every process may run it: only the lease holder links, the others' runs are one cheap call.
A run links what has committed since the last (several batches when there is a backlog). On
stop the job hands the lease back, so another process takes over without waiting for it to
expire.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.audit_linker import SqlAuditLinker
from server.config import Settings
from server.jobs import PeriodicJob
from server.metrics import ServiceMetrics

log = logging.getLogger("payments.audit")


class AuditLinkJob(PeriodicJob):
    def __init__(self, linker: SqlAuditLinker, interval: float, metrics: ServiceMetrics) -> None:
        super().__init__("audit-linker", interval, self._link)
        self.linker = linker
        self._metrics = metrics
        self._holding = False

    async def _link(self) -> str:
        try:
            linked = await self.linker.catch_up()
        except Exception:
            self._held(False)  # unknown: the next run tells
            raise
        self._held(linked is not None)
        if linked:
            self._metrics.audit_linked.inc(linked)
        return ""  # every half second: nothing worth a log line but a change of holder

    def _held(self, holding: bool) -> None:
        if holding != self._holding:
            log.info(
                "audit linker %s the lease",
                "took" if holding else "does not hold",
                extra={"job": self.name, "linker": self.linker.name},
            )
        self._holding = holding
        self._metrics.audit_linker_holder.set(1 if holding else 0)

    async def stop(self) -> None:
        await super().stop()
        if self._holding:
            with contextlib.suppress(Exception):  # unreachable database: the lease expires
                await self.linker.release()
            self._held(False)


def audit_link_job(
    engine: AsyncEngine, settings: Settings, metrics: ServiceMetrics
) -> AuditLinkJob:
    linker = SqlAuditLinker(
        engine,
        lease_seconds=settings.audit_link_lease_seconds,
        batch_size=settings.audit_link_batch_size,
    )
    return AuditLinkJob(linker, settings.audit_link_interval_seconds, metrics)
