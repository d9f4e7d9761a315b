"""Operations still open (PENDING or UNKNOWN) as operators look at them: read-only queries
for `payment-service operations list-open` and for finding the payment of an operation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import payments, transactions

OPEN_STATUSES = ("PENDING", "UNKNOWN")


@dataclass(frozen=True, slots=True)
class OpenOperation:
    transaction_id: str
    payment_id: str
    kind: str  # AUTHORIZATION, CAPTURE, VOID, REFUND
    status: str  # PENDING or UNKNOWN
    amount_minor: int
    currency: str
    gateway: str
    created_at: datetime
    # Why it is open, as the service recorded it (a timeout, a connection reset...).
    detail: str | None

    def age_seconds(self, now: datetime) -> int:
        return max(0, int((now - self.created_at).total_seconds()))


def _select() -> Select[Any]:
    return (
        select(
            transactions.c.id,
            transactions.c.payment_id,
            transactions.c.type,
            transactions.c.status,
            transactions.c.amount_minor,
            transactions.c.currency,
            payments.c.gateway,
            transactions.c.created_at,
            transactions.c.failure_reason,
        )
        .join(payments, payments.c.id == transactions.c.payment_id)
        .where(transactions.c.status.in_(OPEN_STATUSES))
    )


async def open_operations(
    engine: AsyncEngine, *, started_before: datetime, limit: int
) -> list[OpenOperation]:
    """The oldest first (the partial index ix_transactions_open serves the scan)."""
    query = (
        _select()
        .where(transactions.c.created_at < started_before)
        .order_by(transactions.c.created_at)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [OpenOperation(*row) for row in await conn.execute(query)]


async def open_operation(engine: AsyncEngine, transaction_id: str) -> OpenOperation | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_select().where(transactions.c.id == transaction_id))).first()
    return OpenOperation(*row) if row is not None else None
