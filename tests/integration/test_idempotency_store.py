"""The PostgreSQL idempotency store: claims, replays, refusals, leases, purge."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from domain.idempotency import (
    Claim,
    IdempotencyKey,
    KeyRecord,
    KeyState,
    StoredAnswer,
    replay_or_refuse,
)
from infra.db.idempotency import SqlIdempotencyStore
from tests.support.encryption import sealer_for

LEASE = timedelta(seconds=30)
ANSWER = StoredAnswer(0, b"\x08\x01payment")


def a_key(
    caller: str = "svc-a", method: str = "/payments.v1.PaymentService/CapturePayment"
) -> IdempotencyKey:
    return IdempotencyKey(caller, method, f"key-{uuid.uuid4()}")


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def store(engine: AsyncEngine) -> SqlIdempotencyStore:
    return SqlIdempotencyStore(engine, sealer_for())


async def test_first_claim_wins_then_the_answer_is_replayed(store: SqlIdempotencyStore) -> None:
    key = a_key()
    claim = await store.claim(key, "fp-1", now(), LEASE)
    assert isinstance(claim, Claim)
    await store.complete(claim, ANSWER, now())
    record = await store.claim(key, "fp-1", now(), LEASE)
    assert isinstance(record, KeyRecord)
    assert record.state is KeyState.COMPLETED
    assert replay_or_refuse(record, "fp-1", now()) == ANSWER


async def test_other_parameters_are_refused(store: SqlIdempotencyStore) -> None:
    key = a_key()
    claim = await store.claim(key, "fp-1", now(), LEASE)
    assert isinstance(claim, Claim)
    await store.complete(claim, ANSWER, now())
    record = await store.claim(key, "fp-2", now(), LEASE)
    assert isinstance(record, KeyRecord)
    with pytest.raises(IdempotencyKeyReused):
        replay_or_refuse(record, "fp-2", now())


async def test_a_running_request_holds_its_key(store: SqlIdempotencyStore) -> None:
    key = a_key()
    assert isinstance(await store.claim(key, "fp-1", now(), LEASE), Claim)
    record = await store.claim(key, "fp-1", now(), LEASE)
    assert isinstance(record, KeyRecord) and record.state is KeyState.IN_PROGRESS
    with pytest.raises(IdempotencyKeyInUse) as in_use:
        replay_or_refuse(record, "fp-1", now())
    assert int(in_use.value.metadata["retry_after_seconds"]) > 0


async def test_an_abandoned_claim_is_taken_over_after_its_lease(
    store: SqlIdempotencyStore,
) -> None:
    key = a_key()
    start = now()
    dead = await store.claim(key, "fp-1", start, LEASE)
    assert isinstance(dead, Claim)
    later = start + LEASE + timedelta(seconds=1)
    heir = await store.claim(key, "fp-1", later, LEASE)
    assert isinstance(heir, Claim) and heir.token != dead.token
    # The dead claimant can no longer complete or release what the heir now owns.
    await store.complete(dead, StoredAnswer(0, b"stale"), later)
    await store.release(dead)
    record = await store.claim(key, "fp-1", later, LEASE)
    assert isinstance(record, KeyRecord) and record.state is KeyState.IN_PROGRESS
    await store.complete(heir, ANSWER, later)
    record = await store.claim(key, "fp-1", later, LEASE)
    assert isinstance(record, KeyRecord) and record.answer == ANSWER


async def test_released_keys_can_be_claimed_again(store: SqlIdempotencyStore) -> None:
    key = a_key()
    claim = await store.claim(key, "fp-1", now(), LEASE)
    assert isinstance(claim, Claim)
    await store.release(claim)
    assert isinstance(await store.claim(key, "fp-other", now(), LEASE), Claim)


async def test_keys_are_scoped_per_caller_and_method(store: SqlIdempotencyStore) -> None:
    shared = f"key-{uuid.uuid4()}"
    keys = [
        IdempotencyKey("svc-a", "/m/Capture", shared),
        IdempotencyKey("svc-b", "/m/Capture", shared),
        IdempotencyKey("svc-a", "/m/Refund", shared),
    ]
    claims = [await store.claim(k, "fp", now(), LEASE) for k in keys]
    assert all(isinstance(c, Claim) for c in claims)


async def test_concurrent_claims_of_one_key_have_exactly_one_winner(
    store: SqlIdempotencyStore,
) -> None:
    key = a_key()
    results = await asyncio.gather(*(store.claim(key, "fp", now(), LEASE) for _ in range(40)))
    assert sum(isinstance(r, Claim) for r in results) == 1


async def test_purge_forgets_only_what_is_older_than_the_retention(
    store: SqlIdempotencyStore,
) -> None:
    old_key, new_key = a_key(), a_key()
    long_ago = now() - timedelta(days=3)
    old = await store.claim(old_key, "fp", long_ago, LEASE)
    new = await store.claim(new_key, "fp", now(), LEASE)
    assert isinstance(old, Claim) and isinstance(new, Claim)
    await store.complete(old, ANSWER, long_ago)
    await store.complete(new, ANSWER, now())
    assert await store.purge(now() - timedelta(days=1)) >= 1
    assert isinstance(await store.claim(old_key, "other", now(), LEASE), Claim)  # forgotten
    kept = await store.claim(new_key, "fp", now(), LEASE)
    assert isinstance(kept, KeyRecord) and kept.answer == ANSWER


async def test_a_twin_inside_its_claiming_transaction_makes_the_key_in_use_without_a_wait(
    store: SqlIdempotencyStore, engine: AsyncEngine
) -> None:
    """The second request neither waits on the first one's uncommitted row (holding its pooled
    connection) nor claims the key: it is told IN_USE at once, and claims it once the first
    one gave it up."""
    key = a_key()
    async with engine.connect() as first:
        claimed = await store.claim_in(first, key, "fp-1", now(), LEASE)
        assert isinstance(claimed, tuple)  # claimed, not committed yet
        async with engine.connect() as twin:
            # Bounded only so that a regression fails instead of hanging: without the try-lock
            # the twin would wait here until `first` ends, which never comes.
            told = await asyncio.wait_for(store.claim_in(twin, key, "fp-1", now(), LEASE), 10)
            await twin.rollback()
        await first.rollback()
    assert isinstance(told, KeyRecord)
    with pytest.raises(IdempotencyKeyInUse):
        replay_or_refuse(told, "fp-1", now())
    assert isinstance(await store.claim(key, "fp-1", now(), LEASE), Claim)
