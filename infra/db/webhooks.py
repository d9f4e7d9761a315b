"""Webhook receipts and disputes over the unit of work's connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from domain.changes import ChangeTracker
from domain.dispute import Dispute, DisputeStatus
from domain.dispute_access import no_dispute
from domain.dispute_listing import DisputeQuery
from domain.enums import GatewayName
from domain.money import Money
from domain.pagination import Cursor, Page
from domain.webhooks import WebhookReceipt
from infra.db import dispute_search
from infra.db.sealing import Place, Sealer
from infra.db.staging import Statements
from infra.db.tables import cancelled_orders, consumed_events, disputes, webhook_events


def webhook_payload_place(gateway: str, event_id: str) -> Place:
    return Place("webhook_events", "payload", f"{gateway}/{event_id}")


def stored_webhook_payload(row: Any, sealer: Sealer) -> Any:
    """The payload of a webhook_events row; None once retention has dropped it."""
    return sealer.open_json(row["payload"], webhook_payload_place(row["gateway"], row["event_id"]))


class SqlWebhookEventLog:
    def __init__(self, conn: Statements, sealer: Sealer) -> None:
        self._conn = conn
        self._sealer = sealer

    async def record(self, receipt: WebhookReceipt) -> bool:
        # ON CONFLICT waits for a concurrent insert of the same key to commit or roll back.
        statement = (
            insert(webhook_events)
            .values(
                gateway=receipt.gateway.value,
                event_id=receipt.event_id,
                type=receipt.type[:128],
                payment_id=receipt.payment_id,
                received_at=receipt.received_at,
                payload=self._sealer.seal_json(
                    receipt.payload,
                    webhook_payload_place(receipt.gateway.value, receipt.event_id),
                ),
            )
            .on_conflict_do_nothing(
                index_elements=[webhook_events.c.gateway, webhook_events.c.event_id]
            )
            .returning(webhook_events.c.event_id)
        )
        return (await self._conn.execute(statement)).first() is not None


class SqlConsumedEventLog:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def seen(self, event_id: str) -> bool:
        statement = select(consumed_events.c.event_id).where(consumed_events.c.event_id == event_id)
        return (await self._conn.execute(statement)).first() is not None

    async def record(self, event_id: str, topic: str, received_at: datetime) -> bool:
        statement = (
            insert(consumed_events)
            .values(event_id=event_id[:255], topic=topic[:255], received_at=received_at)
            .on_conflict_do_nothing(index_elements=[consumed_events.c.event_id])
            .returning(consumed_events.c.event_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def record_cancelled_order(self, order_id: str, cancelled_at: datetime) -> None:
        statement = (
            insert(cancelled_orders)
            .values(order_id=order_id, cancelled_at=cancelled_at)
            .on_conflict_do_nothing(index_elements=[cancelled_orders.c.order_id])
        )
        await self._conn.execute(statement)

    async def is_order_cancelled(self, order_id: str) -> bool:
        statement = select(cancelled_orders.c.order_id).where(
            cancelled_orders.c.order_id == order_id
        )
        return (await self._conn.execute(statement)).first() is not None


def _dispute_to_row(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "payment_id": dispute.payment_id,
        "gateway": dispute.gateway.value,
        "gateway_dispute_id": dispute.gateway_dispute_id,
        "amount_minor": dispute.amount.amount_minor,
        "currency": dispute.amount.currency,
        "reason": dispute.reason,
        "status": dispute.status.value,
        "created_at": dispute.created_at,
        "updated_at": dispute.updated_at,
        "closed_at": dispute.closed_at,
    }


def _dispute_from_row(row: Any) -> Dispute:
    return Dispute(
        id=row["id"],
        payment_id=row["payment_id"],
        gateway=GatewayName(row["gateway"]),
        gateway_dispute_id=row["gateway_dispute_id"],
        amount=Money(row["amount_minor"], row["currency"]),
        reason=row["reason"],
        status=DisputeStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
    )


class SqlDisputeRepository:
    def __init__(self, conn: Statements, tracker: ChangeTracker) -> None:
        self._conn = conn
        self._tracker = tracker

    def _loaded(self, row: Any) -> Dispute:
        dispute = _dispute_from_row(row)
        self._tracker.loaded(dispute)
        return dispute

    async def add(self, dispute: Dispute) -> None:
        await self._conn.execute(insert(disputes).values(**_dispute_to_row(dispute)))
        self._tracker.added(dispute)

    async def find_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        query = (
            select(disputes)
            .where(disputes.c.gateway_dispute_id == gateway_dispute_id)
            .with_for_update()
        )
        row = (await self._conn.execute(query)).mappings().first()
        return self._loaded(row) if row else None

    async def save(self, dispute: Dispute) -> None:
        values = _dispute_to_row(dispute)
        del values["id"]
        await self._conn.execute(
            update(disputes).where(disputes.c.id == dispute.id).values(**values)
        )
        self._tracker.saved(dispute)

    async def get(self, dispute_id: str) -> Dispute:
        try:
            uuid.UUID(dispute_id)
        except ValueError:
            raise no_dispute(dispute_id) from None
        query = select(disputes).where(disputes.c.id == dispute_id)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            raise no_dispute(dispute_id)
        return self._loaded(row)

    async def search(self, query: DisputeQuery) -> Page[Dispute]:
        rows = list((await self._conn.execute(dispute_search.page_statement(query))).mappings())
        found = [_dispute_from_row(row) for row in rows[: query.size]]
        more = len(rows) > query.size
        after = Cursor(found[-1].created_at, found[-1].id) if more and found else None
        return Page(found, after)

    async def list_for_payment(self, payment_id: str) -> list[Dispute]:
        query = (
            select(disputes)
            .where(disputes.c.payment_id == payment_id)
            .order_by(disputes.c.created_at, disputes.c.id)
        )
        return [self._loaded(row) for row in (await self._conn.execute(query)).mappings()]
