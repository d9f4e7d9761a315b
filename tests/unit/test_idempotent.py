"""Idempotency.run: the order of cache, store and execution, with in-memory ports."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from domain.idempotency import Claim, IdempotencyKey, KeyRecord, KeyState, StoredAnswer
from domain.usecases.idempotent import Idempotency
from tests.unit.fakes import FixedClock

KEY = IdempotencyKey("svc", "/payments.v1.PaymentService/CapturePayment", "k-1")
ANSWER = StoredAnswer(0, b"response")
LEASE = timedelta(seconds=60)


class MemoryStore:
    def __init__(self) -> None:
        self.records: dict[IdempotencyKey, KeyRecord] = {}
        self.claims = 0

    async def claim(
        self, key: IdempotencyKey, request_fingerprint: str, now: datetime, lease: timedelta
    ) -> Claim | KeyRecord:
        existing = self.records.get(key)
        if existing is not None:
            return existing
        self.claims += 1
        self.records[key] = KeyRecord(key, request_fingerprint, KeyState.IN_PROGRESS, now + lease)
        return Claim(key, f"token-{self.claims}")

    async def complete(self, claim: Claim, answer: StoredAnswer, now: datetime) -> None:
        record = self.records[claim.key]
        self.records[claim.key] = KeyRecord(
            claim.key, record.fingerprint, KeyState.COMPLETED, record.locked_until, answer
        )

    async def release(self, claim: Claim) -> None:
        del self.records[claim.key]

    async def answer(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer, now: datetime
    ) -> None:
        self.records.setdefault(
            key, KeyRecord(key, request_fingerprint, KeyState.COMPLETED, now, answer)
        )

    async def purge(self, completed_before: datetime) -> int:
        return 0


class MemoryCache:
    def __init__(self, *, down: bool = False) -> None:
        self.answers: dict[IdempotencyKey, tuple[str, StoredAnswer]] = {}
        self.locks: set[IdempotencyKey] = set()
        self.down = down

    async def get(self, key: IdempotencyKey) -> tuple[str, StoredAnswer] | None:
        return None if self.down else self.answers.get(key)

    async def put(self, key: IdempotencyKey, fp: str, answer: StoredAnswer) -> None:
        if not self.down:
            self.answers[key] = (fp, answer)

    async def try_lock(self, key: IdempotencyKey, lease: timedelta) -> bool | None:
        if self.down:
            return None
        if key in self.locks:
            return False
        self.locks.add(key)
        return True

    async def unlock(self, key: IdempotencyKey) -> None:
        self.locks.discard(key)


def idempotency(store: MemoryStore, cache: MemoryCache) -> Idempotency:
    return Idempotency(store, cache, FixedClock(), LEASE)


class Counter:
    def __init__(self, answer: StoredAnswer = ANSWER, error: Exception | None = None) -> None:
        self.calls, self.answer, self.error = 0, answer, error

    async def __call__(self) -> StoredAnswer:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.answer


@pytest.mark.parametrize("cache_down", [False, True])
async def test_runs_once_then_replays(cache_down: bool) -> None:
    store, cache, execute = MemoryStore(), MemoryCache(down=cache_down), Counter()
    runner = idempotency(store, cache)
    assert await runner.run(KEY, "fp", execute) == (ANSWER, False)
    assert await runner.run(KEY, "fp", execute) == (ANSWER, True)
    assert execute.calls == 1
    assert store.records[KEY].state is KeyState.COMPLETED
    assert cache.locks == set()


async def test_a_cached_answer_is_replayed_without_the_store() -> None:
    store, cache = MemoryStore(), MemoryCache()
    cache.answers[KEY] = ("fp", ANSWER)
    assert await idempotency(store, cache).run(KEY, "fp", Counter()) == (ANSWER, True)
    assert store.claims == 0


@pytest.mark.parametrize("cached", [True, False])
async def test_other_parameters_are_refused(cached: bool) -> None:
    store, cache = MemoryStore(), MemoryCache()
    runner = idempotency(store, cache)
    await runner.run(KEY, "fp", Counter())
    if not cached:
        cache.answers.clear()
    with pytest.raises(IdempotencyKeyReused):
        await runner.run(KEY, "other", Counter())


async def test_a_held_lock_answers_in_use_at_once() -> None:
    store, cache = MemoryStore(), MemoryCache()
    cache.locks.add(KEY)
    with pytest.raises(IdempotencyKeyInUse):
        await idempotency(store, cache).run(KEY, "fp", Counter())
    assert store.claims == 0


async def test_an_unfinished_request_in_the_store_answers_in_use() -> None:
    store, cache = MemoryStore(), MemoryCache(down=True)
    await store.claim(KEY, "fp", FixedClock().now(), LEASE)
    with pytest.raises(IdempotencyKeyInUse):
        await idempotency(store, cache).run(KEY, "fp", Counter())


async def test_a_request_that_raises_frees_its_key() -> None:
    store, cache = MemoryStore(), MemoryCache()
    runner = idempotency(store, cache)
    with pytest.raises(RuntimeError):
        await runner.run(KEY, "fp", Counter(error=RuntimeError("boom")))
    assert KEY not in store.records and KEY not in cache.locks
    assert await runner.run(KEY, "fp", Counter()) == (ANSWER, False)
