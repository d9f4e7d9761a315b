"""Redis fast path for idempotency: completed answers and in-flight locks.

Nothing here is needed for correctness (PostgreSQL decides), so every Redis error is
swallowed: a lookup that fails is a cache miss, a lock that cannot be taken is "unknown".
Answers are sealed like the database's copy (they are responses, with personal data): Redis
persistence holds no plaintext, and a value planted or altered in Redis is a miss, never a
replayed answer.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.idempotency import IdempotencyKey, StoredAnswer
from infra.db.sealing import FieldCipher, Place, UnreadableValue

log = logging.getLogger("payments.cache")
T = TypeVar("T")

# fingerprint (64 hex chars) | answer code (int32) | answer body
_HEADER = struct.Struct(">64si")


def _encode(request_fingerprint: str, answer: StoredAnswer) -> bytes:
    return _HEADER.pack(request_fingerprint.encode(), answer.code) + answer.body


def _decode(raw: bytes) -> tuple[str, StoredAnswer]:
    fingerprint, code = _HEADER.unpack_from(raw)
    return fingerprint.decode(), StoredAnswer(code, raw[_HEADER.size :])


# A cache call may cost a request this much at most; past it the cache is treated as absent.
CACHE_BUDGET_SECONDS = 0.25


class RedisAnswerCache:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        retention: timedelta,
        cipher: FieldCipher,
        budget_seconds: float = CACHE_BUDGET_SECONDS,
    ) -> None:
        self._redis = redis
        self._cipher = cipher
        self._budget = budget_seconds
        self._prefix = f"{prefix}idem:"
        self._retention_ms = int(retention.total_seconds() * 1000)
        self._warned_at = 0.0

    def _answer_key(self, key: IdempotencyKey) -> str:
        return f"{self._prefix}answer:{key.digest}"

    @staticmethod
    def _place(key: IdempotencyKey) -> Place:
        return Place("redis", "idempotency_answer", key.digest)

    def _lock_key(self, key: IdempotencyKey) -> str:
        return f"{self._prefix}lock:{key.digest}"

    async def _call(self, command: Awaitable[T]) -> T:
        async with asyncio.timeout(self._budget):
            return await command

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 30:  # one line per 30 s, not one per request
            self._warned_at = now
            log.warning("redis unavailable, idempotency runs on PostgreSQL alone: %s", exc)

    async def get(self, key: IdempotencyKey) -> tuple[str, StoredAnswer] | None:
        try:
            raw = await self._call(self._redis.get(self._answer_key(key)))
        except (RedisError, TimeoutError) as exc:
            self._unavailable(exc)
            return None
        # The client is built without decode_responses: values are bytes.
        if not isinstance(raw, bytes) or not raw:
            return None
        try:
            return _decode(self._cipher.open(raw, self._place(key), accept_plaintext=False))
        except UnreadableValue as exc:
            log.warning("ignoring an unreadable cached idempotent answer: %s", exc)
            return None

    async def put(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer
    ) -> None:
        try:
            await self._call(
                self._redis.set(
                    self._answer_key(key),
                    self._cipher.seal(_encode(request_fingerprint, answer), self._place(key)),
                    px=self._retention_ms,
                )
            )
        except (RedisError, TimeoutError) as exc:
            self._unavailable(exc)

    async def try_lock(self, key: IdempotencyKey, lease: timedelta) -> bool | None:
        try:
            taken = await self._call(
                self._redis.set(
                    self._lock_key(key), b"1", nx=True, px=int(lease.total_seconds() * 1000)
                )
            )
        except (RedisError, TimeoutError) as exc:
            self._unavailable(exc)
            return None
        return bool(taken)

    async def unlock(self, key: IdempotencyKey) -> None:
        try:
            await self._call(self._redis.delete(self._lock_key(key)))
        except (RedisError, TimeoutError) as exc:
            self._unavailable(exc)


class NoAnswerCache:
    """Used when no Redis is configured."""

    async def get(self, key: IdempotencyKey) -> tuple[str, StoredAnswer] | None:
        return None

    async def put(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer
    ) -> None:
        return None

    async def try_lock(self, key: IdempotencyKey, lease: timedelta) -> bool | None:
        return None

    async def unlock(self, key: IdempotencyKey) -> None:
        return None
