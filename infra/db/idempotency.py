"""The durable idempotency-key store: one row per (caller, method, key)."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select
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
_new_claim = insert(keys).values(
    caller=bindparam("k_caller"),
    method=bindparam("k_method"),
    key=bindparam("k_key"),
    fingerprint=bindparam("k_fingerprint"),
    state=KeyState.IN_PROGRESS.value,
    claim_token=bindparam("k_token"),
    locked_until=bindparam("k_locked_until"),
    created_at=bindparam("k_now"),
)
# A new key is inserted; an abandoned claim (lease over, same request) is taken over. The
# conflict clause compares with the row we tried to insert (`excluded`): its created_at is
# now, its fingerprint the request's.
_CLAIM = _new_claim.on_conflict_do_update(
    index_elements=[_T.caller, _T.method, _T.key],
    set_={
        "claim_token": _new_claim.excluded.claim_token,
        "locked_until": _new_claim.excluded.locked_until,
    },
    where=and_(
        _T.state == KeyState.IN_PROGRESS.value,
        _T.locked_until < _new_claim.excluded.created_at,
        _T.fingerprint == _new_claim.excluded.fingerprint,
    ),
).returning(_T.claim_token, _T.created_at)
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
            claimed = await driver.fetch(conn, claim, params)  # every keyed call's: driver.py
            if claimed:
                return Claim(key, token), claimed[0]["created_at"]
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
