"""Our side of the reconciliation report: the payments of a period that reached a gateway
(those with the gateway's id), as PaymentRecords. Read through ix_payments_listing
(created_at, id) in keyset batches, like the export."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName, PaymentStatus
from domain.reconciliation_report import PaymentRecord, coarse_status
from infra.db.tables import payments

_COLUMNS = (
    payments.c.id, payments.c.gateway_payment_id, payments.c.currency, payments.c.amount_minor,
    payments.c.captured_minor, payments.c.refunded_minor, payments.c.status,
    payments.c.created_at,
)  # fmt: skip


async def our_records(
    engine: AsyncEngine, gateway: GatewayName, start: datetime, end: datetime, batch: int = 1000
) -> list[PaymentRecord]:
    records: list[PaymentRecord] = []
    after: tuple[datetime, str] | None = None
    while True:
        query = select(*_COLUMNS).where(
            payments.c.gateway == gateway.value,
            payments.c.gateway_payment_id.is_not(None),
            payments.c.created_at >= start,
            payments.c.created_at < end,
        )
        if after is not None:
            query = query.where(tuple_(payments.c.created_at, payments.c.id) > after)
        query = query.order_by(payments.c.created_at, payments.c.id).limit(batch)
        async with engine.connect() as conn:
            rows = list((await conn.execute(query)).mappings())
        records += [_record(row) for row in rows]
        if len(rows) < batch:
            return records
        after = (rows[-1]["created_at"], rows[-1]["id"])


def _record(row: RowMapping) -> PaymentRecord:
    return PaymentRecord(
        reference=row["gateway_payment_id"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        captured_minor=row["captured_minor"],
        refunded_minor=row["refunded_minor"],
        status=coarse_status(PaymentStatus(row["status"])),
        created_at=row["created_at"],
        payment_id=str(row["id"]),
    )
