"""The audit trail in PostgreSQL: entries appended in the transaction they record, chained
soon after by the linker (infra/db/audit_linker.py), read back in order.

A writer inserts its entries into audit_pending in one statement: each entry as its canonical
payload (domain/audit_chain.py, the text its hash will cover), that payload's content hash and
the id of its transaction. A plain insert of narrow rows under one index, no lock held through
the commit, no counter shared by writers (`pos` is an identity column with a per-connection
cache, only ordering a transaction's own entries). The linker moves committed entries to
audit_log, numbered, chained and spread into columns (migration 0017). Readers list both: the
chained rows by seq, then the pending ones in the order the linker will chain them, in one
statement (one snapshot: an entry linked meanwhile is listed once, never missed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    String,
    Text,
    cast,
    func,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import AuditEntry
from domain.audit_chain import (
    ChainedEntry,
    PendingEntry,
    TrailEntry,
    entry_of,
)
from infra.db import commit_writes
from infra.db.commit_writes import CommitWrites
from infra.db.tables import audit_log, audit_pending

ENTRY_COLUMNS = (
    "id", "occurred_at", "actor_kind", "actor_subject", "action", "resource_type",
    "resource_id", "request_id", "origin", "outcome", "reason", "before", "after",
)  # fmt: skip


async def append_audit(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """Adds `entries` to the connection's transaction (the same statement the unit of work's
    commit writes them with); the linker chains them once it has committed."""
    await commit_writes.write(conn, CommitWrites(entries=entries))


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
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


def _from_row(row: Row[Any]) -> ChainedEntry:
    return ChainedEntry(row.seq, _entry(row), row.prev_hash, row.hash)


def _pending(entry_payload: str, stored_hash: str) -> PendingEntry:
    try:
        entry = entry_of(entry_payload)
    except (ValueError, KeyError, TypeError):  # mangled: listed, and found by verify
        entry = AuditEntry(
            "-", datetime.fromtimestamp(0, UTC), "", "", "", "", "", "", "", "", None, None, None
        )
    return PendingEntry(entry, entry_payload, stored_hash)


def _from_any_row(row: Row[Any]) -> TrailEntry:
    if row.seq is None:
        return _pending(row.payload, row.content_hash)
    return _from_row(row)


def _trail(linked_where: Any, pending_where: Any) -> Any:
    """Chained and pending rows in one result: the entry's columns, seq, prev_hash and hash
    for chained rows (NULL for pending ones); payload, content_hash, tx and pos for pending
    ones (NULL for chained ones). Ordered by seq, tx, pos (NULLs last): the trail's order,
    pending rows after the chain."""
    entry_columns = [audit_log.c[name] for name in ENTRY_COLUMNS]
    linked = select(
        *entry_columns, audit_log.c.seq, audit_log.c.prev_hash, audit_log.c.hash,
        null().cast(Text).label("payload"), null().cast(String).label("content_hash"),
        null().cast(BigInteger).label("tx"), null().cast(BigInteger).label("pos"),
    ).where(linked_where)  # fmt: skip
    pending = select(
        *(null().cast(column.type).label(column.name) for column in entry_columns),
        null().cast(BigInteger).label("seq"), null().cast(String).label("prev_hash"),
        null().cast(String).label("hash"),
        audit_pending.c.payload, audit_pending.c.content_hash, audit_pending.c.tx,
        audit_pending.c.pos,
    ).where(pending_where)  # fmt: skip
    return union_all(linked, pending).subquery("trail")


def _pending_resource(field: str) -> Any:
    return func.jsonb_extract_path_text(cast(audit_pending.c.payload, JSONB), "resource", field)


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
        """Every chained row after `after_seq`, by sequence number."""
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

    async def pending(self) -> AsyncIterator[PendingEntry]:
        """Every entry not chained yet, in the order the linker will chain them."""
        after: tuple[int, int] = (-1, -1)
        while True:
            query: Select[Any] = (
                select(audit_pending)
                .where(func.row(audit_pending.c.tx, audit_pending.c.pos) > func.row(*after))
                .order_by(audit_pending.c.tx, audit_pending.c.pos)
                .limit(self._batch_size)
            )
            rows = await self._fetch(query)
            for row in rows:
                yield _pending(row.payload, row.content_hash)
            if len(rows) < self._batch_size:
                return
            after = (rows[-1].tx, rows[-1].pos)

    async def last(self, count: int) -> list[TrailEntry]:
        """The last `count` entries of the trail, pending ones included."""
        trail = _trail(true(), true())
        rows = await self._fetch(
            select(trail)
            .order_by(trail.c.seq.desc().nulls_first(), trail.c.tx.desc(), trail.c.pos.desc())
            .limit(count)
        )
        return [_from_any_row(row) for row in reversed(rows)]

    async def for_resource(self, resource_type: str, resource_id: str) -> list[TrailEntry]:
        """One resource's entries in trail order, pending ones (not chained yet) last."""
        trail = _trail(
            (audit_log.c.resource_type == resource_type) & (audit_log.c.resource_id == resource_id),
            (_pending_resource("type") == resource_type) & (_pending_resource("id") == resource_id),
        )
        rows = await self._fetch(select(trail).order_by(trail.c.seq, trail.c.tx, trail.c.pos))
        return [_from_any_row(row) for row in rows]

    async def count(self) -> int:
        """Chained rows."""
        rows = await self._fetch(select(func.count()).select_from(audit_log))
        return int(rows[0][0])

    async def pending_count(self) -> int:
        rows = await self._fetch(select(func.count()).select_from(audit_pending))
        return int(rows[0][0])
