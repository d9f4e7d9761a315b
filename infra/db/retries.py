"""The durable retry schedule in PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from domain.retry import RetryOperation, ScheduledRetry
from infra.db.staging import Statements
from infra.db.tables import scheduled_retries as retries

_C = retries.c


def _key(retry: ScheduledRetry) -> ColumnElement[bool]:
    return and_(
        _C.payment_id == retry.payment_id,
        _C.operation == retry.operation.value,
        _C.target_id == retry.target_id,
    )


class SqlRetrySchedule:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def schedule(self, retry: ScheduledRetry) -> None:
        values = {
            "payment_id": retry.payment_id,
            "operation": retry.operation.value,
            "target_id": retry.target_id,
            "attempt": retry.attempt,
            "run_at": retry.run_at,
            "last_failure": retry.last_failure[:64],
        }
        statement = insert(retries).values(**values)
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[_C.payment_id, _C.operation, _C.target_id],
                set_={k: statement.excluded[k] for k in ("attempt", "run_at", "last_failure")},
            )
        )

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[ScheduledRetry]:
        due = (
            select(_C.payment_id, _C.operation, _C.target_id)
            .where(_C.run_at <= now)
            .order_by(_C.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = await self._conn.execute(
            update(retries)
            .where(tuple_(_C.payment_id, _C.operation, _C.target_id).in_(due))
            .values(run_at=now + lease)
            .returning(retries)
        )
        return [
            ScheduledRetry(
                row.payment_id,
                RetryOperation(row.operation),
                row.target_id,
                row.attempt,
                row.run_at,
                row.last_failure,
            )
            for row in rows
        ]

    async def remove(self, retry: ScheduledRetry) -> None:
        """Only the claimed attempt: a retry rescheduled meanwhile stays."""
        await self._conn.execute(delete(retries).where(_key(retry), _C.attempt == retry.attempt))
