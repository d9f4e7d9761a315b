"""Gauges read from PostgreSQL at scrape time: exact across replicas and restarts.

Each query is served by an index or reads a table kept small by design, so a scrape costs
milliseconds however many payments there are; server/metrics_scrape.py runs them at most once
per METRICS_REFRESH_SECONDS, whatever the number of scrapers. Best effort: with the database
unreachable the last values stay, and the scrape still answers."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.enums import PaymentStatus
from infra.db.tables import STATUS_COUNT_COLUMNS
from server.metrics import ServiceMetrics

log = logging.getLogger("payments.metrics")

# Payments by status: the sums of the counts a trigger keeps per connection shard, a column
# per status (migration 0026), without reading payments.
_PAYMENTS_BY_STATUS = text(
    "SELECT "  # noqa: S608 - the column names of the table, no input
    + ", ".join(f"sum({c})::bigint AS {c}" for c in STATUS_COUNT_COLUMNS)
    + " FROM payment_status_counts"
)
# The partial index on unpublished rows (ix_outbox_unpublished).
OUTBOX_BACKLOG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE published_at IS NULL"
)
# The analytics projector's backlog (the partial index on unprojected rows).
_ANALYTICS_BACKLOG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE projected_at IS NULL"
)
# A small table, drained every AUDIT_LINK_INTERVAL_SECONDS.
_AUDIT_CHAIN_LAG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(inserted_at)), 0) FROM audit_pending"
)
# The partial index the reconciler scans (ix_transactions_open): open operations only.
OPEN_OPERATIONS = text(
    "SELECT status, count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM transactions WHERE status IN ('PENDING', 'UNKNOWN') GROUP BY status"
)
OPEN_STATUSES = ("PENDING", "UNKNOWN")
# Rows are deleted once their retry ran: the table holds the pending retries only.
_RETRY_SCHEDULE = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(run_at)), 0) FROM scheduled_retries"
)
QUERY_TIMEOUT_SECONDS = 5


class DatabaseGauges:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    async def refresh(self, engine: AsyncEngine) -> None:
        """Every gauge, over one connection."""
        try:
            async with asyncio.timeout(QUERY_TIMEOUT_SECONDS), engine.connect() as conn:
                payments_by_status = await self._payments(conn)
                await self._metrics.disputes.refresh(conn, payments_by_status)
                await self._outbox(conn)
                await self._audit_chain(conn)
                await self._open_operations(conn)
                await self._retries(conn)
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("database gauges not refreshed: %s", type(exc).__name__)

    async def refresh_audit_chain(self, engine: AsyncEngine) -> None:
        async with asyncio.timeout(QUERY_TIMEOUT_SECONDS), engine.connect() as conn:
            await self._audit_chain(conn)

    async def _payments(self, conn: AsyncConnection) -> dict[str, int]:
        """The gauges set; the counts by status returned (the dispute ratio divides by them)."""
        sums = (await conn.execute(_PAYMENTS_BY_STATUS)).one()._mapping
        # Every status, zero included: with several workers the most recent value of each
        # label is reported, and a status that emptied must not keep an older worker's count.
        counts = {str(column).upper(): int(count or 0) for column, count in sums.items()}
        found = dict(counts)
        gauge = self._metrics.payments
        for status in PaymentStatus:
            gauge.labels(status=status.value).set(counts.pop(status.value, 0))
        for unknown, count in counts.items():  # a status this build does not know
            gauge.labels(status=unknown).set(count)
        return found

    async def _outbox(self, conn: AsyncConnection) -> None:
        count, age = (await conn.execute(OUTBOX_BACKLOG)).one()
        self._metrics.outbox_backlog.set(count)
        self._metrics.outbox_lag.set(max(float(age), 0.0))
        projecting, projecting_age = (await conn.execute(_ANALYTICS_BACKLOG)).one()
        self._metrics.analytics_backlog.set(projecting)
        self._metrics.analytics_lag.set(max(float(projecting_age), 0.0))

    async def _audit_chain(self, conn: AsyncConnection) -> None:
        count, age = (await conn.execute(_AUDIT_CHAIN_LAG)).one()
        self._metrics.audit_backlog.set(count)
        self._metrics.audit_lag.set(max(float(age), 0.0))

    async def _open_operations(self, conn: AsyncConnection) -> None:
        rows = (await conn.execute(OPEN_OPERATIONS)).all()
        oncall = self._metrics.oncall
        counts = {str(status): count for status, count, _ in rows}
        for status in OPEN_STATUSES:  # zero included, as for payments
            oncall.open_operations.labels(status=status).set(counts.get(status, 0))
        oldest = max((float(age) for _, _, age in rows), default=0.0)
        oncall.open_operation_age.set(max(oldest, 0.0))

    async def _retries(self, conn: AsyncConnection) -> None:
        count, overdue = (await conn.execute(_RETRY_SCHEDULE)).one()
        self._metrics.oncall.retries_scheduled.set(count)
        # run_at in the future (not due yet, or leased to a worker): not overdue.
        self._metrics.oncall.retries_overdue.set(max(float(overdue), 0.0))
