"""The audit trail in PostgreSQL: entries appended in the transaction they record, chained
soon after by the linker (infra/db/audit_linker.py), read back in order.

A writer inserts its entries into audit_pending in one statement, with the canonical payload
their hash will cover (domain/audit_chain.py), that payload's content hash and the id of its
transaction: a plain insert, no lock held through the commit, no counter shared by writers
(`pos` is an identity column with a per-connection cache, only ordering a transaction's own
entries). The linker moves committed entries to audit_log, numbered and chained (migration
0017). Readers list both: the chained rows by seq, then the pending ones in the order the
linker will chain them, in one statement (one snapshot: an entry linked meanwhile is listed
once, never missed).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    String,
    Text,
    func,
    null,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import AuditEntry
from domain.audit_chain import ChainedEntry, PendingEntry, TrailEntry, content_hash, payload
from infra.db.tables import audit_log, audit_pending

# One statement whatever the number of entries, inserted in the order they were recorded (the
# order the linker chains a transaction's entries in).
APPEND = text(
    "INSERT INTO audit_pending (id, occurred_at, actor_kind, actor_subject, action,"
    " resource_type, resource_id, request_id, origin, outcome, reason, before, after, payload,"
    " content_hash, tx, inserted_at)"
    " SELECT id, occurred_at, actor_kind, actor_subject, action, resource_type, resource_id,"
    " request_id, origin, outcome, reason, before, after, payload, content_hash,"
    " pg_current_xact_id()::text::bigint, statement_timestamp()"
    " FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (id uuid,"
    " occurred_at timestamptz, actor_kind text, actor_subject text, action text,"
    " resource_type text, resource_id text, request_id text, origin text, outcome text,"
    " reason text, before jsonb, after jsonb, payload text, content_hash text))"
    " WITH ORDINALITY AS entry ORDER BY entry.ordinality"
)

ENTRY_COLUMNS = (
    "id", "occurred_at", "actor_kind", "actor_subject", "action", "resource_type",
    "resource_id", "request_id", "origin", "outcome", "reason", "before", "after",
)  # fmt: skip


async def append_audit(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """Adds `entries` to the connection's transaction; the linker chains them once it has
    committed."""
    if entries:
        rows = json.dumps([_to_row(entry) for entry in entries], ensure_ascii=True)
        await conn.execute(APPEND, {"rows": rows})


def _to_row(e: AuditEntry) -> dict[str, Any]:
    canonical_payload = payload(e)
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
        "payload": canonical_payload,
        "content_hash": content_hash(canonical_payload),
    }


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


def _from_any_row(row: Row[Any]) -> TrailEntry:
    if row.seq is None:
        return PendingEntry(_entry(row), row.payload, row.content_hash)
    return _from_row(row)


def _trail(linked_where: Any, pending_where: Any) -> Any:
    """Chained and pending rows in one result: seq, prev_hash and hash are NULL for pending
    rows; payload, content_hash, tx and pos for chained ones. Ordered by seq, tx, pos (NULLs
    last): the trail's order, pending rows after the chain."""
    linked = select(
        *(audit_log.c[name] for name in ENTRY_COLUMNS),
        audit_log.c.seq, audit_log.c.prev_hash, audit_log.c.hash,
        null().cast(Text).label("payload"), null().cast(String).label("content_hash"),
        null().cast(BigInteger).label("tx"), null().cast(BigInteger).label("pos"),
    ).where(linked_where)  # fmt: skip
    pending = select(
        *(audit_pending.c[name] for name in ENTRY_COLUMNS),
        null().cast(BigInteger).label("seq"), null().cast(String).label("prev_hash"),
        null().cast(String).label("hash"),
        audit_pending.c.payload, audit_pending.c.content_hash, audit_pending.c.tx,
        audit_pending.c.pos,
    ).where(pending_where)  # fmt: skip
    return union_all(linked, pending).subquery("trail")


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
                yield PendingEntry(_entry(row), row.payload, row.content_hash)
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
            (audit_pending.c.resource_type == resource_type)
            & (audit_pending.c.resource_id == resource_id),
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
