"""The audit trail in PostgreSQL: chained rows appended at commit, read back in order.

Appending takes a transaction-scoped advisory lock, reads the head (the last row's seq and
hash), inserts the new rows after it and returns; the caller commits at once, which releases
the lock. So the chain is one total order across every process sharing the database, and the
lock is held only for the last statements of a transaction and its commit. PostgreSQL makes
a committed row visible before it releases the transaction's locks, so the next holder's
read of the head (a fresh snapshot: READ COMMITTED, as the units of work use) sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import AuditEntry
from domain.audit_chain import GENESIS, ChainedEntry, chain
from infra.db.tables import audit_log

# pg_advisory_xact_lock key of the chain's head: any bigint no other code of this database
# uses ("audit" in ASCII).
AUDIT_CHAIN_LOCK = 0x6175646974


async def append_audit(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> list[ChainedEntry]:
    """Chains and inserts `entries` in the connection's transaction. Commit right after."""
    if not entries:
        return []
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK})
    head = (
        await conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    rows = chain(entries, head.seq, head.hash) if head else chain(entries, 0, GENESIS)
    await conn.execute(insert(audit_log), [_to_row(row) for row in rows])
    return rows


def _to_row(chained: ChainedEntry) -> dict[str, Any]:
    e = chained.entry
    return {
        "seq": chained.seq,
        "id": e.id,
        "occurred_at": e.occurred_at,
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
        "prev_hash": chained.prev_hash,
        "hash": chained.hash,
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
