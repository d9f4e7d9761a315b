"""Run a request at most once per idempotency key.

PostgreSQL (the IdempotencyStore) decides; Redis (the AnswerCache) only saves work: a cached
answer is replayed without touching the database, and a held lock answers IN_USE at once.
If the cache is down or wrong-footed, the store still gives every guarantee.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from domain.idempotency import (
    AnswerCache,
    Claim,
    IdempotencyKey,
    IdempotencyStore,
    KeyState,
    StoredAnswer,
    replay_or_refuse,
)
from domain.ports import Clock

log = logging.getLogger("payments.idempotency")

# Runs the request and returns its final answer (a success or a final error), to be stored
# and replayed. Raising means the request did not finish: the key is released.
Execute = Callable[[], Awaitable[StoredAnswer]]


@dataclass(frozen=True, slots=True)
class Idempotency:
    store: IdempotencyStore
    cache: AnswerCache
    clock: Clock
    lease: timedelta

    async def run(
        self, key: IdempotencyKey, request_fingerprint: str, execute: Execute
    ) -> tuple[StoredAnswer, bool]:
        """(answer, replayed)."""
        cached = await self.cache.get(key)
        if cached is not None:
            cached_fingerprint, answer = cached
            if cached_fingerprint != request_fingerprint:
                raise IdempotencyKeyReused(
                    "this request_id was already used with different parameters",
                    metadata={"request_id": key.key},
                )
            return answer, True

        locked = await self.cache.try_lock(key, self.lease)
        if locked is False:
            raise IdempotencyKeyInUse(
                "a request with this request_id is still being processed",
                metadata={"request_id": key.key},
            )
        try:
            return await self._run_claimed(key, request_fingerprint, execute)
        finally:
            if locked:
                await self.cache.unlock(key)

    async def _run_claimed(
        self, key: IdempotencyKey, request_fingerprint: str, execute: Execute
    ) -> tuple[StoredAnswer, bool]:
        claimed = await self.store.claim(key, request_fingerprint, self.clock.now(), self.lease)
        if not isinstance(claimed, Claim):
            answer = replay_or_refuse(claimed, request_fingerprint, self.clock.now())
            if claimed.state is KeyState.COMPLETED:
                await self.cache.put(key, request_fingerprint, answer)
            return answer, True
        try:
            answer = await execute()
        except BaseException:
            # Did not finish (invalid input, retryable error, crash of the handler, caller
            # gone): the key is free again. Shielded so a cancelled call still releases it.
            await asyncio.shield(self._release(claimed))
            raise
        await self.store.complete(claimed, answer, self.clock.now())
        await self.cache.put(key, request_fingerprint, answer)
        return answer, False

    async def _release(self, claim: Claim) -> None:
        try:
            await self.store.release(claim)
        except Exception:  # the lease expires by itself; the key is then claimable again
            log.warning("could not release an idempotency key; its lease will expire")
