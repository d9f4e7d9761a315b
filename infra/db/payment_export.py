"""The rows of `payment-service export payments`: every payment created in a period, read in
keyset batches of bounded size.

Each batch is one short query (`created_at, id > last seen ... LIMIT batch_size`, walking
ix_payments_listing of migration 0021), so memory holds at most one batch whatever the
period's size, no transaction or cursor stays open across a long export, and a row written
meanwhile cannot make the walk skip or repeat another. Only plain columns are read: the
sealed ones (description, metadata, customer ids) stay sealed, so the export needs no
encryption key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import RowMapping, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import payments

EXPORTED_COLUMNS = (
    "id", "order_id", "user_id", "status", "gateway", "payment_method_type", "country",
    "currency", "amount_minor", "authorized_minor", "captured_minor", "refunded_minor",
    "settlement_currency", "settlement_amount_minor", "captured_settlement_minor",
    "refunded_settlement_minor", "failure_code", "gateway_payment_id", "created_at",
    "updated_at", "authorized_at", "captured_at", "refunded_at", "failed_at", "cancelled_at",
)  # fmt: skip


class PaymentExportReader:
    def __init__(self, engine: AsyncEngine, batch_size: int = 1000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self.batch_size = batch_size
        # What has been read so far, for progress reports and for tests of the bound.
        self.rows_read = 0
        self.batches_read = 0
        self.largest_batch = 0

    async def batches(self, start: datetime, end: datetime) -> AsyncIterator[list[RowMapping]]:
        """Payments with start <= created_at < end, oldest first, batch by batch."""
        columns = [payments.c[name] for name in EXPORTED_COLUMNS]
        after: tuple[datetime, str] | None = None
        while True:
            query = select(*columns).where(
                payments.c.created_at >= start, payments.c.created_at < end
            )
            if after is not None:
                query = query.where(tuple_(payments.c.created_at, payments.c.id) > after)
            query = query.order_by(payments.c.created_at, payments.c.id).limit(self.batch_size)
            async with self._engine.connect() as conn:
                rows = list((await conn.execute(query)).mappings())
            if not rows:
                return
            self.rows_read += len(rows)
            self.batches_read += 1
            self.largest_batch = max(self.largest_batch, len(rows))
            yield rows
            if len(rows) < self.batch_size:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])
