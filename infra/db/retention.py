"""The retention policies in SQL (domain/retention.py says what goes and what stays).

Each batch is one short transaction: it picks at most `limit` rows with
`FOR UPDATE SKIP LOCKED` - a row a request holds is left for the next run, and replicas
running the job at once share the rows instead of waiting on each other - and changes them
so that they no longer match (payload NULL, anonymized_at set): running it again is a no-op.
Each anonymised payment or method gets its audit row in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.actor import SYSTEM
from domain.audit import AuditAction, ResourceType, new_entry
from infra.db.audit import append_audit
from infra.db.engine import storage_errors
from infra.db.tables import payment_methods, payments, refunds, webhook_events


async def _audit_anonymised(
    conn: AsyncConnection, action: AuditAction, resource: ResourceType, ids: list[str]
) -> None:
    now = datetime.now(UTC)
    entries = [
        new_entry(
            action, resource, resource_id, actor=SYSTEM, occurred_at=now, after={"anonymized": True}
        )
        for resource_id in ids
    ]
    await append_audit(conn, entries)


class SqlRetentionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def drop_webhook_payloads(self, received_before: datetime, limit: int) -> int:
        w = webhook_events.c
        batch = (
            select(w.gateway, w.event_id)
            .where(w.payload.is_not(None), w.received_at < received_before)
            .order_by(w.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # The receipt row stays: its primary key keeps a redelivered event from counting twice.
        statement = (
            update(webhook_events)
            .where(tuple_(w.gateway, w.event_id).in_(batch))
            .values(payload=None)
        )
        async with storage_errors(), self._engine.begin() as conn:
            return int((await conn.execute(statement)).rowcount)

    async def anonymise_payments(self, created_before: datetime, now: datetime, limit: int) -> int:
        p = payments.c
        batch = (
            select(p.id)
            .where(p.anonymized_at.is_(None), p.created_at < created_before)
            .order_by(p.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(payments)
            .where(p.id.in_(batch))
            .values(
                metadata=None,
                description=None,
                cancellation_reason=None,
                review_reason=None,  # an admin's free text about the customer
                gateway_customer_id=None,
                payment_method_token=None,
                return_url="",
                next_action_url=None,
                country="",
                anonymized_at=now,
                # A request that read the payment before cannot write the data back.
                version=p.version + 1,
            )
            .returning(p.id)
        )
        async with storage_errors(), self._engine.begin() as conn:
            ids = list((await conn.execute(statement)).scalars())
            if ids:
                await conn.execute(
                    update(refunds)
                    .where(refunds.c.payment_id.in_(ids))
                    .values(reason=None, requested_by="")
                )
                await _audit_anonymised(
                    conn, AuditAction.PAYMENT_ANONYMIZE, ResourceType.PAYMENT, ids
                )
        return len(ids)

    async def anonymise_deleted_payment_methods(
        self, deleted_before: datetime, now: datetime, limit: int
    ) -> int:
        m = payment_methods.c
        batch = (
            select(m.id)
            .where(
                m.deleted_at.is_not(None), m.deleted_at < deleted_before, m.anonymized_at.is_(None)
            )
            .order_by(m.deleted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(payment_methods)
            .where(m.id.in_(batch))
            .values(
                paypal_email=None,
                paypal_email_bidx=None,
                gateway_customer_id=None,
                gateway_customer_bidx=None,
                token="",
                card_last4=None,
                card_bin=None,
                card_fingerprint=None,
                card_expiry_month=None,
                card_expiry_year=None,
                anonymized_at=now,
            )
            .returning(m.id)
        )
        async with storage_errors(), self._engine.begin() as conn:
            ids = list((await conn.execute(statement)).scalars())
            if ids:
                await _audit_anonymised(
                    conn, AuditAction.PAYMENT_METHOD_ANONYMIZE, ResourceType.PAYMENT_METHOD, ids
                )
        return len(ids)
