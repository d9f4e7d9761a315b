"""The durable idempotency-key store: one row per (caller, method, key)."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.idempotency import Claim, IdempotencyKey, KeyRecord, KeyState, StoredAnswer
from infra.db import commit_writes, driver
from infra.db.commit_writes import CommitWrites
from infra.db.driver import DriverStatement
from infra.db.engine import storage_errors
from infra.db.sealing import Place, Sealer
from infra.db.tables import idempotency_keys as keys

_T = keys.c


def _where(key: IdempotencyKey) -> Any:
    return and_(_T.caller == key.caller, _T.method == key.method, _T.key == key.key)


# The statements of every keyed call, built once with bind parameters: building them per call
# (values(), cache keys, coercions) cost more CPU than running them.
_KEY = and_(
    _T.caller == bindparam("k_caller"),
    _T.method == bindparam("k_method"),
    _T.key == bindparam("k_key"),
)
# A new key is inserted; an abandoned claim (lease over, same request) is taken over. The
# conflict clause compares with the row we tried to insert (`excluded`): its created_at is
# now, its fingerprint the request's. Before that, a transaction-scoped advisory lock on the
# key, tried without waiting: a request whose twin is inside its claiming transaction right
# now is told IN_USE at once, instead of holding a pooled connection while it waits on the
# twin's row (a storm of one key would otherwise take every connection of the pool).
_CLAIM = text(
    "WITH free AS (SELECT pg_try_advisory_xact_lock(hashtextextended("
    "CAST(:k_caller AS text) || chr(31) || CAST(:k_method AS text) || chr(31)"
    " || CAST(:k_key AS text), 0)) AS got),"
    " claimed AS (INSERT INTO idempotency_keys"
    " (caller, method, key, fingerprint, state, claim_token, locked_until, created_at)"
    " SELECT :k_caller, :k_method, :k_key, :k_fingerprint, 'IN_PROGRESS', CAST(:k_token AS uuid),"
    " CAST(:k_locked_until AS timestamptz), CAST(:k_now AS timestamptz) FROM free WHERE free.got"
    " ON CONFLICT (caller, method, key) DO UPDATE"
    " SET claim_token = excluded.claim_token, locked_until = excluded.locked_until"
    " WHERE idempotency_keys.state = 'IN_PROGRESS'"
    " AND idempotency_keys.locked_until < excluded.created_at"
    " AND idempotency_keys.fingerprint = excluded.fingerprint"
    " RETURNING created_at)"
    " SELECT free.got, claimed.created_at FROM free LEFT JOIN claimed ON true"
)
_READ = select(keys).where(_KEY)


@functools.cache
def _claim_statement(dialect: Dialect) -> DriverStatement:
    return DriverStatement(_CLAIM, dialect)


def _key_params(key: IdempotencyKey) -> dict[str, Any]:
    return {"k_caller": key.caller, "k_method": key.method, "k_key": key.key}


def answer_place(caller: str, method: str, key: str) -> Place:
    # A saved answer is the response itself (payment metadata, PayPal e-mail...): sealed.
    # The row id is JSON so that no caller, method or key can imitate another's.
    return Place("idempotency_keys", "answer_body", json.dumps([caller, method, key]))


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer

    def _record(self, key: IdempotencyKey, row: Any) -> KeyRecord:
        answer = None
        if row.answer_code is not None:
            place = answer_place(key.caller, key.method, key.key)
            body = self._sealer.cipher.open(bytes(row.answer_body), place)
            answer = StoredAnswer(row.answer_code, body)
        return KeyRecord(key, row.fingerprint, KeyState(row.state), row.locked_until, answer)

    async def claim(
        self, key: IdempotencyKey, request_fingerprint: str, now: datetime, lease: timedelta
    ) -> Claim | KeyRecord:
        async with storage_errors(), self._engine.begin() as conn:
            claimed = await self.claim_in(conn, key, request_fingerprint, now, lease)
        return claimed[0] if isinstance(claimed, tuple) else claimed

    async def claim_in(
        self,
        conn: AsyncConnection,
        key: IdempotencyKey,
        request_fingerprint: str,
        now: datetime,
        lease: timedelta,
    ) -> tuple[Claim, datetime] | KeyRecord:
        """`claim` in the caller's transaction: (the claim, when the key was first claimed)
        or the existing record. A concurrent first claim of the same key makes this wait
        until that transaction ends (the unique index), so the record read is settled."""
        token = str(uuid.uuid4())
        params = _key_params(key) | {
            "k_fingerprint": request_fingerprint,
            "k_token": token,
            "k_locked_until": now + lease,
            "k_now": now,
        }
        claim = _claim_statement(conn.dialect)
        for _ in range(3):
            # Every keyed call's statement: on asyncpg directly (driver.py).
            [claimed] = await driver.fetch(conn, claim, params)
            if claimed["created_at"] is not None:
                return Claim(key, token), claimed["created_at"]
            if not claimed["got"]:  # its twin is claiming it right now: retry soon
                return KeyRecord(key, request_fingerprint, KeyState.IN_PROGRESS, now)
            row = (await conn.execute(_READ, _key_params(key))).first()
            if row is not None:
                return self._record(key, row)
            # Released between our insert and our read: try again.
        raise RuntimeError("idempotency key kept changing under us")  # pragma: no cover

    async def complete(self, claim: Claim, answer: StoredAnswer, now: datetime) -> None:
        async with storage_errors(), self._engine.begin() as conn:
            answer_params = self.answer_params(claim, answer, now)
            await commit_writes.write(conn, CommitWrites(answer=answer_params))

    def answer_params(self, claim: Claim, answer: StoredAnswer, now: datetime) -> dict[str, Any]:
        """The parameters (k_*) that store `answer` under `claim`, its body sealed: for
        the statement a transaction's side effects are written with (infra/db/commit_writes.py)."""
        place = answer_place(claim.key.caller, claim.key.method, claim.key.key)
        return _key_params(claim.key) | {
            "k_token": claim.token,
            "k_answer_code": answer.code,
            "k_answer_body": self._sealer.cipher.seal(answer.body, place),
            "k_now": now,
        }

    def claim_params(
        self,
        claim: Claim,
        request_fingerprint: str,
        now: datetime,
        lease: timedelta,
        answer: StoredAnswer | None,
    ) -> dict[str, Any]:
        """The parameters (k_*) of a claim made by a commit's statement (`claimed` in
        infra/db/commit_writes.py): in progress, or answered at once with `answer`."""
        place = answer_place(claim.key.caller, claim.key.method, claim.key.key)
        body = None if answer is None else self._sealer.cipher.seal(answer.body, place)
        return _key_params(claim.key) | {
            "k_fingerprint": request_fingerprint,
            "k_state": (KeyState.IN_PROGRESS if answer is None else KeyState.COMPLETED).value,
            "k_token": claim.token,
            "k_locked_until": now + lease,
            "k_now": now,
            "k_answer_code": None if answer is None else answer.code,
            "k_answer_body": body,
            "k_completed_at": None if answer is None else now,
        }

    async def answer(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer, now: datetime
    ) -> None:
        """Store a final answer for a key that no committed transaction claimed (the request
        ended before its first commit, e.g. refused in its first transaction)."""
        sealed = self._sealer.cipher.seal(
            answer.body, answer_place(key.caller, key.method, key.key)
        )
        async with storage_errors(), self._engine.begin() as conn:
            await conn.execute(
                insert(keys)
                .values(
                    caller=key.caller,
                    method=key.method,
                    key=key.key,
                    fingerprint=request_fingerprint,
                    state=KeyState.COMPLETED.value,
                    claim_token=str(uuid.uuid4()),
                    locked_until=now,
                    created_at=now,
                    answer_code=answer.code,
                    answer_body=sealed,
                    completed_at=now,
                )
                .on_conflict_do_nothing(index_elements=[_T.caller, _T.method, _T.key])
            )

    async def release(self, claim: Claim) -> None:
        async with storage_errors(), self._engine.begin() as conn:
            await conn.execute(
                delete(keys).where(
                    _where(claim.key),
                    _T.claim_token == claim.token,
                    _T.state == KeyState.IN_PROGRESS.value,
                )
            )

    async def purge(self, completed_before: datetime) -> int:
        async with storage_errors(), self._engine.begin() as conn:
            result = await conn.execute(
                delete(keys).where(
                    _T.created_at < completed_before,
                    or_(_T.state == KeyState.COMPLETED.value, _T.locked_until < completed_before),
                )
            )
        return int(result.rowcount)
