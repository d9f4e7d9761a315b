"""What a unit of work writes as it commits - the payment it saved, its outbox events, its
audit entries and the keyed request's answer - in one statement (data-modifying CTEs): the
writes of a commit cost one round trip, however many kinds of them there are.

With a payment (its CTEs `saved` and `written`, infra/db/repositories.py), everything else
is written only when the payment was (`saved`: the update found the version it expects, the
insert found the order without a payment), and the statement answers how many it wrote: a
refusal writes nothing, even when the statement is its transaction on its own (autocommit).

A keyed request's first commit may also claim its key (`claimed`, RequestClaim's deferred
claim): the key's row is inserted with the writes - answered already when the request ends in
this commit. When the key was there before, or the payment's write is refused while the claim
went in, the statement ends with an error (`payments_refuse_commit`, migration 0020) and
nothing of it - nor of its transaction - stays.

Each part is there only when there is something to write, so a statement exists for each
combination (96 at most, each built once). Rows travel as arrays, one per column, and
are unnested on the server, in the order given: a transaction's audit entries are chained in
that order by the linker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit import AuditEntry
from domain.audit_chain import content_hash, payload
from domain.events import DomainEvent
from infra.db import driver
from infra.db.driver import DriverStatement
from infra.db.repositories import SAVE_PAYMENT_BINDS
from infra.messaging.wire import RenderEvent

_OUTBOX = (
    "outbox_rows AS (INSERT INTO outbox"
    " (id, event_type, aggregate_id, message_key, value, headers, created_at{traced_column})"
    " SELECT *{traced_value} FROM unnest(CAST(:o_id AS uuid[]), CAST(:o_type AS text[]),"
    " CAST(:o_aggregate AS uuid[]), CAST(:o_key AS text[]), CAST(:o_value AS bytea[]),"
    " CAST(:o_headers AS jsonb[]), CAST(:o_at AS timestamptz[])){where})"
)
# With tracing on, the trace the events were committed in (W3C traceparent, one for the
# commit): the relay continues it when it publishes them. Off, the column is not written
# (NULL) and the statement is the one it was before tracing.
_TRACED_COLUMN, _TRACED_VALUE = ", traceparent", ", CAST(:o_traceparent AS text)"
# One statement whatever the number of entries, inserted in the order they were recorded (the
# order the linker chains a transaction's entries in). Also bench/audit_append.py's. `{where}`
# is empty, or the guard of a statement that writes a payment (below).
AUDIT_CTE = (
    "audit_rows AS (INSERT INTO audit_pending (tx, payload, content_hash, inserted_at)"
    " SELECT pg_current_xact_id()::text::bigint, entry.payload, entry.content_hash,"
    " statement_timestamp()"
    " FROM unnest(CAST(:a_payloads AS text[]), CAST(:a_hashes AS text[]))"
    " WITH ORDINALITY AS entry(payload, content_hash, n)"
    "{where} ORDER BY entry.n)"
)
_ANSWER = (
    "UPDATE idempotency_keys SET state = 'COMPLETED', answer_code = :k_answer_code,"
    " answer_body = :k_answer_body, completed_at = :k_now"
    " WHERE caller = :k_caller AND method = :k_method AND key = :k_key"
    " AND claim_token = :k_token{also}"
)
_IF_SAVED = "EXISTS (SELECT 1 FROM saved)"
_CLAIM = (
    "claimed AS (INSERT INTO idempotency_keys (caller, method, key, fingerprint, state,"
    " claim_token, locked_until, created_at, answer_code, answer_body, completed_at)"
    " VALUES (:k_caller, :k_method, :k_key, :k_fingerprint, :k_state, CAST(:k_token AS uuid),"
    " CAST(:k_locked_until AS timestamptz), CAST(:k_now AS timestamptz),"
    " CAST(:k_answer_code AS integer), CAST(:k_answer_body AS bytea),"
    " CAST(:k_completed_at AS timestamptz))"
    " ON CONFLICT (caller, method, key) DO NOTHING RETURNING 1)"
)
# The SQLSTATE of payments_refuse_commit and the reasons it is given.
REFUSED_SQLSTATE = "PA409"
KEY_TAKEN = "idempotency key taken"
WRITE_REFUSED = "payment write refused"
_REFUSE_UNLESS_CLAIMED = (
    f"WHEN NOT EXISTS (SELECT 1 FROM claimed) THEN payments_refuse_commit('{KEY_TAKEN}')"  # noqa: S608 - our constant
)


def _statement(
    payment: str | None,
    *,
    outbox: bool,
    audit: bool,
    answer: bool,
    claim: bool,
    traced: bool = False,
) -> TextClause:
    """`payment`: the CTEs that write the payment, if any. Built once per combination, by
    `_compiled`. `traced`: the outbox rows get the commit's traceparent."""
    where = f" WHERE {_IF_SAVED}" if payment else ""
    ctes = [_CLAIM] if claim else []
    ctes += [payment] if payment else []
    if outbox:
        ctes.append(
            _OUTBOX.format(
                where=where,
                traced_column=_TRACED_COLUMN if traced else "",
                traced_value=_TRACED_VALUE if traced else "",
            )
        )
    if audit:
        ctes.append(AUDIT_CTE.format(where=where))
    last = _ANSWER.format(also=f" AND {_IF_SAVED}" if payment else "") if answer else None
    if (claim or payment) and last is not None:
        ctes.append(f"answered AS ({last})")  # the statement ends with its verdict instead
    if claim:
        refused = (
            f" WHEN NOT {_IF_SAVED} THEN payments_refuse_commit('{WRITE_REFUSED}')"
            if payment
            else ""
        )
        last = f"SELECT CASE {_REFUSE_UNLESS_CLAIMED}{refused} ELSE 1 END"
    elif payment:
        last = "SELECT count(*) FROM saved"
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    statement = text(head + (last or "SELECT 1"))
    return statement.bindparams(*SAVE_PAYMENT_BINDS) if payment else statement


@dataclass
class CommitWrites:
    """The writes of one commit, ready to go."""

    events: Sequence[DomainEvent] = ()
    entries: Sequence[AuditEntry] = ()
    # The keyed request's answer: the k_* parameters of SqlIdempotencyStore.answer_params.
    answer: dict[str, Any] | None = None
    # The keyed request's claim, when this commit makes it: SqlIdempotencyStore.claim_params.
    claim: dict[str, Any] | None = None
    render: RenderEvent | None = field(default=None, repr=False)
    # The payment written last: its CTEs and their parameters (SqlPaymentRepository's
    # StagedSave).
    payment: tuple[str, dict[str, Any]] | None = field(default=None, repr=False)
    # The W3C traceparent the events were committed in; None with tracing off.
    traceparent: str | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = (
            dict(self.answer or {}) | (self.claim or {}) | (self.payment[1] if self.payment else {})
        )
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
            if self.traceparent is not None:
                params["o_traceparent"] = self.traceparent
        if self.entries:
            payloads = [payload(entry) for entry in self.entries]
            params |= {"a_payloads": payloads, "a_hashes": [content_hash(p) for p in payloads]}
        return params


@functools.cache
def _compiled(
    payment: str | None,
    *,
    outbox: bool,
    audit: bool,
    answer: bool,
    claim: bool,
    traced: bool,
    dialect: Dialect,
) -> DriverStatement:
    statement = _statement(
        payment, outbox=outbox, audit=audit, answer=answer, claim=claim, traced=traced
    )
    return DriverStatement(statement, dialect)


async def write(conn: AsyncConnection, writes: CommitWrites, *, alone: bool = False) -> bool:
    """One statement for all of them; none when there is nothing to write. False when the
    payment could not be written (see above): then nothing was. With a claim, a refusal is
    an error instead (see above), which `refusal` tells apart. `alone`: the statement is its
    transaction on its own (driver.fetch_alone): nothing has begun on `conn`."""
    payment = writes.payment[0] if writes.payment else None
    outbox, audit, answer = bool(writes.events), bool(writes.entries), writes.answer is not None
    claim = writes.claim is not None
    if not (payment or outbox or audit or answer or claim):
        return True
    # Every call's statement: on asyncpg directly (driver.py).
    traced = outbox and writes.traceparent is not None
    statement = _compiled(
        payment,
        outbox=outbox,
        audit=audit,
        answer=answer,
        claim=claim,
        traced=traced,
        dialect=conn.dialect,
    )
    run = driver.fetch_alone if alone else driver.fetch
    rows = await run(conn, statement, writes.params())
    return not payment or rows[0][0] == 1


def refusal(error: BaseException) -> str | None:
    """The reason a commit with a claim was refused (KEY_TAKEN or WRITE_REFUSED), None when
    `error` is another error."""
    cause = getattr(error, "orig", None)
    if cause is None or getattr(cause, "sqlstate", None) != REFUSED_SQLSTATE:
        return None
    reason = str(cause)
    return next((known for known in (KEY_TAKEN, WRITE_REFUSED) if known in reason), None)
