"""The audit trail in PostgreSQL: entries appended in the transaction they record, read back
in order.

The entries go to audit_pending in one statement, with the canonical payload their hash will
cover (domain/audit_chain.py). At COMMIT a deferred trigger of the database (migration 0012)
chains them into audit_log under a transaction-scoped advisory lock: the next seq after the
head, the head's hash as prev_hash, SHA-256 over both and the payload. The lock is held only
inside the commit, with no round trip to the application, and is released when the commit
ends; PostgreSQL makes a committed row visible before it releases the transaction's locks, so
the next holder reads the new head. So the chain is one total order across every process
sharing the database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import AuditEntry
from domain.audit_chain import ChainedEntry, payload
from infra.db.tables import audit_log

# One statement whatever the number of entries, inserted in the order they were recorded (the
# order the deferred trigger chains them in).
APPEND = text(
    "INSERT INTO audit_pending (id, occurred_at, actor_kind, actor_subject, action,"
    " resource_type, resource_id, request_id, origin, outcome, reason, before, after, payload)"
    " SELECT id, occurred_at, actor_kind, actor_subject, action, resource_type, resource_id,"
    " request_id, origin, outcome, reason, before, after, payload"
    " FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (id uuid,"
    " occurred_at timestamptz, actor_kind text, actor_subject text, action text,"
    " resource_type text, resource_id text, request_id text, origin text, outcome text,"
    " reason text, before jsonb, after jsonb, payload text)) WITH ORDINALITY AS entry"
    " ORDER BY entry.ordinality"
)


async def append_audit(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """Adds `entries` to the connection's transaction; they are chained when it commits."""
    if entries:
        rows = json.dumps([_to_row(entry) for entry in entries], ensure_ascii=True)
        await conn.execute(APPEND, {"rows": rows})


def _to_row(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "occurred_at": e.occurred_at.astimezone(UTC).isoformat(),
        "actor_kind": e.actor_kind,
        "actor_subject": e.actor_subject,
        "action": e.action,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "request_id": e.request_id,
        "origin": e.origin,
        "outcome": e.outcome,
        "reason": e.reason,
        "before": e.before,
        "after": e.after,
        "payload": payload(e),
    }


def _from_row(row: Row[Any]) -> ChainedEntry:
    entry = AuditEntry(
        id=row.id,
        occurred_at=row.occurred_at,
        actor_kind=row.actor_kind,
        actor_subject=row.actor_subject,
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        request_id=row.request_id,
        origin=row.origin,
        outcome=row.outcome,
        reason=row.reason,
        before=row.before,
        after=row.after,
    )
    return ChainedEntry(row.seq, entry, row.prev_hash, row.hash)


class SqlAuditReader:
    """Reads the trail for verification and display, in batches (never all of it at once)."""

    def __init__(self, source: AsyncEngine | AsyncConnection, batch_size: int = 1000) -> None:
        # A connection: read inside its transaction (tests that look at uncommitted rows).
        self._source = source
        self._batch_size = batch_size

    async def _fetch(self, query: Any) -> list[Row[Any]]:
        if isinstance(self._source, AsyncConnection):
            return list((await self._source.execute(query)).all())
        async with self._source.connect() as conn:
            return list((await conn.execute(query)).all())

    async def in_order(self, after_seq: int = 0) -> AsyncIterator[ChainedEntry]:
        """Every row after `after_seq`, by sequence number."""
        while True:
            rows = await self._fetch(
                select(audit_log)
                .where(audit_log.c.seq > after_seq)
                .order_by(audit_log.c.seq)
                .limit(self._batch_size)
            )
            for row in rows:
                yield _from_row(row)
            if len(rows) < self._batch_size:
                return
            after_seq = rows[-1].seq

    async def last(self, count: int) -> list[ChainedEntry]:
        rows = await self._fetch(select(audit_log).order_by(audit_log.c.seq.desc()).limit(count))
        return [_from_row(row) for row in reversed(rows)]

    async def for_resource(self, resource_type: str, resource_id: str) -> list[ChainedEntry]:
        rows = await self._fetch(
            select(audit_log)
            .where(
                audit_log.c.resource_type == resource_type,
                audit_log.c.resource_id == resource_id,
            )
            .order_by(audit_log.c.seq)
        )
        return [_from_row(row) for row in rows]

    async def count(self) -> int:
        rows = await self._fetch(select(func.count()).select_from(audit_log))
        return int(rows[0][0])
