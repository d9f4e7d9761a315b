"""Idempotency keys with Stripe's semantics.

A mutating request carries a key (request_id). The first request with a key claims it and
runs; its answer - a success or a final error - is stored and replayed to every later request
with the same key and the same parameters, without acting again. The same key with other
parameters is refused; while the first request runs, others are told to retry. A claim is a
lease: if the process running it dies, the key becomes claimable again when the lease ends.

Answers are opaque bytes (the API layer's serialized response), so the domain stays free of
any wire format.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.errors import DomainError, ErrorKind, IdempotencyKeyInUse, IdempotencyKeyReused

MAX_KEY_LENGTH = 255


class KeyState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """Keys are scoped per caller and per method: two callers may use the same request_id."""

    caller: str
    method: str
    key: str

    @property
    def digest(self) -> str:
        raw = "\x1f".join((self.caller, self.method, self.key)).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """What the first request answered: `code` 0 with the response bytes, or an error code
    with the serialized error status."""

    code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to run a request; `token` proves it when completing or releasing."""

    key: IdempotencyKey
    token: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key: IdempotencyKey
    fingerprint: str
    state: KeyState
    locked_until: datetime
    answer: StoredAnswer | None = None


def fingerprint(request_bytes: bytes) -> str:
    """Of the request as sent, minus its key: what 'the same parameters' means."""
    return hashlib.sha256(request_bytes).hexdigest()


def replay_or_refuse(record: KeyRecord, request_fingerprint: str, now: datetime) -> StoredAnswer:
    """The answer to give when the key already exists and could not be claimed."""
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "this request_id was already used with different parameters",
            metadata={"request_id": record.key.key},
        )
    if record.state is KeyState.COMPLETED and record.answer is not None:
        return record.answer
    retry_after = max(0, int((record.locked_until - now).total_seconds()) + 1)
    raise IdempotencyKeyInUse(
        "a request with this request_id is still being processed",
        metadata={"request_id": record.key.key, "retry_after_seconds": str(retry_after)},
    )


def is_final(error: DomainError) -> bool:
    """Final errors are replayed like successes. Invalid input and refused access (the
    request never started) and retryable errors release the key, so the same key can be
    tried again."""
    return not error.retryable and error.kind not in _NOT_STARTED


_NOT_STARTED = frozenset(
    {ErrorKind.INVALID_ARGUMENT, ErrorKind.PERMISSION_DENIED, ErrorKind.UNAUTHENTICATED}
)


class IdempotencyStore(Protocol):
    """The durable record of keys (PostgreSQL in infra): the source of truth."""

    async def claim(
        self, key: IdempotencyKey, request_fingerprint: str, now: datetime, lease: timedelta
    ) -> Claim | KeyRecord:
        """Claim the key (new, or its previous lease expired with the same fingerprint), or
        return the existing record to replay or refuse."""

    async def complete(self, claim: Claim, answer: StoredAnswer, now: datetime) -> None: ...

    async def release(self, claim: Claim) -> None:
        """Forget the key: the request did not start or may be retried."""

    async def answer(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer, now: datetime
    ) -> None:
        """Store a final answer for a key no committed transaction claimed."""

    async def purge(self, completed_before: datetime) -> int:
        """Delete records older than the retention; returns how many."""


class AnswerCache(Protocol):
    """An optional fast path (Redis). Every method may fail silently: correctness comes from
    the IdempotencyStore alone."""

    async def get(self, key: IdempotencyKey) -> tuple[str, StoredAnswer] | None:
        """(fingerprint, answer) of a completed request, if cached."""

    async def put(
        self, key: IdempotencyKey, request_fingerprint: str, answer: StoredAnswer
    ) -> None: ...

    async def try_lock(self, key: IdempotencyKey, lease: timedelta) -> bool | None:
        """True if locked for us, False if someone else holds it, None if unknown."""

    async def unlock(self, key: IdempotencyKey) -> None: ...


class AlreadyAnswered(Exception):
    """Raised by the unit of work when the request's key already holds a final answer: the
    request does not run again, its earlier answer is replayed."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("the request was answered before")
        self.answer = answer


class KeyTakenMeanwhile(Exception):
    """Raised by the unit of work when a request that claims its key with its first write
    (RequestClaim's deferred claim) finds the key already there: nothing of that transaction
    stays, and the request runs again claiming first, to be replayed, refused or taken over
    as a key already there is."""

    def __init__(self) -> None:
        super().__init__("the request's idempotency key was there before its first write")


class RequestIds:
    """Ids for the work of one keyed request, derived from its key once the key is claimed:
    the same request sent again (after a crash cut it short) makes the same ids in the same
    order, so it finds the operation it started the first time instead of starting another.

    The seed is the key with the moment it was first claimed (kept when a lapsed claim is
    taken over, new when the key is claimed afresh after its record was purged): a key used
    again a day later makes new ids. Before the claim, ids are random."""

    _NAMESPACE = uuid.UUID("5f1d1c36-8a4e-4d0e-9a55-2a3c1f0b7e21")

    def __init__(self, key: IdempotencyKey) -> None:
        self._key = key.digest
        self._seed: str | None = None
        self._count = 0

    def seed(self, first_claimed_at: datetime) -> None:
        seed = f"{self._key}:{first_claimed_at.isoformat()}"
        if seed != self._seed:
            self._seed, self._count = seed, 0

    def new_id(self) -> str:
        if self._seed is None:
            return str(uuid.uuid4())
        self._count += 1
        return str(uuid.uuid5(self._NAMESPACE, f"{self._seed}:{self._count}"))

    @property
    def drawn(self) -> int:
        """How many ids were made since the seed."""
        return self._count

    def rewind(self, drawn: int) -> None:
        """Makes the ids after the first `drawn` again: the ids of a transaction that rolled
        back are not anywhere, and a replay of the request after a crash would draw them
        again in the next transaction - so must this process."""
        self._count = min(self._count, drawn)


class KeyedRequest(Protocol):
    """One keyed request whose key lives in its own transactions (the unit of work claims
    it and stores its answer): what the API layer reads back once the request ended."""

    key: IdempotencyKey
    ids: RequestIds  # the use case's ids (seeded by the claim)
    claim: Claim | None  # the committed claim, if any
    answer: StoredAnswer | None  # the answer a transaction stored, if any
    message: object | None  # with a success answer: the API layer's response, as built
