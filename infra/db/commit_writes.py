"""What a unit of work writes as it commits - its outbox events, its audit entries and the
keyed request's answer - in one statement (data-modifying CTEs): the side effects of a
transaction cost one round trip, however many kinds of them there are.

Each part is there only when there is something to write, so a statement exists for each
combination (eight at most, each built once). Rows travel as arrays, one per column, and are
unnested on the server, in the order given: a transaction's audit entries are chained in that
order by the linker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit import AuditEntry
from domain.audit_chain import content_hash, payload
from domain.events import DomainEvent
from infra.messaging.wire import RenderEvent

_OUTBOX = (
    "outbox_rows AS (INSERT INTO outbox"
    " (id, event_type, aggregate_id, message_key, value, headers, created_at)"
    " SELECT * FROM unnest(CAST(:o_id AS uuid[]), CAST(:o_type AS text[]),"
    " CAST(:o_aggregate AS uuid[]), CAST(:o_key AS text[]), CAST(:o_value AS bytea[]),"
    " CAST(:o_headers AS jsonb[]), CAST(:o_at AS timestamptz[])))"
)
# One statement whatever the number of entries, inserted in the order they were recorded (the
# order the linker chains a transaction's entries in). Also bench/audit_append.py's.
AUDIT_CTE = (
    "audit_rows AS (INSERT INTO audit_pending (tx, payload, content_hash, inserted_at)"
    " SELECT pg_current_xact_id()::text::bigint, entry.payload, entry.content_hash,"
    " statement_timestamp()"
    " FROM unnest(CAST(:a_payloads AS text[]), CAST(:a_hashes AS text[]))"
    " WITH ORDINALITY AS entry(payload, content_hash, n)"
    " ORDER BY entry.n)"
)
_ANSWER = (
    "UPDATE idempotency_keys SET state = 'COMPLETED', answer_code = :k_answer_code,"
    " answer_body = :k_answer_body, completed_at = :k_now"
    " WHERE caller = :k_caller AND method = :k_method AND key = :k_key"
    " AND claim_token = :k_token"
)


@functools.cache
def _statement(outbox: bool, audit: bool, answer: bool) -> TextClause:
    ctes = [cte for cte, wanted in ((_OUTBOX, outbox), (AUDIT_CTE, audit)) if wanted]
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    return text(head + (_ANSWER if answer else "SELECT 1"))


@dataclass
class CommitWrites:
    """The side effects of one transaction, ready to write."""

    events: Sequence[DomainEvent] = ()
    entries: Sequence[AuditEntry] = ()
    # The keyed request's answer: the k_* parameters of SqlIdempotencyStore.answer_params.
    answer: dict[str, Any] | None = None
    render: RenderEvent | None = field(default=None, repr=False)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.answer or {})
        if self.events:
            assert self.render is not None, "events need their renderer"
            messages = [self.render(event) for event in self.events]
            params |= {
                "o_id": [e.event_id for e in self.events],
                "o_type": [e.event_type for e in self.events],
                "o_aggregate": [e.payment_id for e in self.events],
                "o_key": [e.order_id for e in self.events],
                "o_value": [m.value for m in messages],
                "o_headers": [json.dumps(m.headers) for m in messages],
                "o_at": [e.occurred_at for e in self.events],
            }
        if self.entries:
            payloads = [payload(entry) for entry in self.entries]
            params |= {"a_payloads": payloads, "a_hashes": [content_hash(p) for p in payloads]}
        return params


async def write(conn: AsyncConnection, writes: CommitWrites) -> None:
    """One statement for all of them; none when there is nothing to write."""
    outbox, audit, answer = bool(writes.events), bool(writes.entries), writes.answer is not None
    if outbox or audit or answer:
        await conn.execute(_statement(outbox, audit, answer), writes.params())
