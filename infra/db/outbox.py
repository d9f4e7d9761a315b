"""Writes domain events to the outbox table in the caller's transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import DomainEvent
from domain.money import Money
from infra.db.tables import outbox


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json_value(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amountMinor": value.amount_minor, "currency": value.currency}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def event_payload(event: DomainEvent) -> dict[str, Any]:
    """Neutral JSON of the event; the relay renders the published wire format from it."""
    fields = {f.name: _json_value(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return {"type": event.event_type} | {_camel(k): v for k, v in fields.items()}


class SqlEventOutbox:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, events: list[DomainEvent]) -> None:
        if not events:
            return
        await self._conn.execute(
            insert(outbox),
            [
                {
                    "id": event.event_id,
                    "event_type": event.event_type,
                    "aggregate_id": event.payment_id,
                    "message_key": event.order_id,
                    "payload": event_payload(event),
                    "created_at": event.occurred_at,
                }
                for event in events
            ],
        )
