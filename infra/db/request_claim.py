"""The idempotency record of one keyed request, kept in the request's own transactions.

The unit of work claims the key as the first statement of a transaction (until a claim has
committed), and writes the request's final answer in the transaction that concludes it. A
payment created in one transaction is claimed, created and answered in that transaction;
an operation with a gateway call claims with its intent and is answered with its outcome.
So the idempotency layer adds statements to the request's transactions, never transactions.

A second request with the same key waits on the first claim's row until that transaction
ends, then finds the key in progress (IDEMPOTENCY_KEY_IN_USE), answered (AlreadyAnswered:
the answer is replayed) or taken with other parameters (IDEMPOTENCY_KEY_REUSED).

Deferred, the claim costs no statement of its own: the request runs as if its key were new,
and its first commit inserts the key with its writes, in the same statement
(infra/db/commit_writes.py) - answered already when that commit ends the request. A key
there before (a request sent again, a twin) refuses that commit whole (KeyTakenMeanwhile),
and the API layer runs the request again, claiming first as above (server/idempotency.py).
Until the key is ours nothing has left the process - a gateway is called only after the
commit that claims it - so running again is safe. Ids are seeded with the moment the claim
will carry, as a claim found in the database would seed them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.idempotency import (
    AlreadyAnswered,
    Claim,
    IdempotencyKey,
    KeyState,
    RequestIds,
    StoredAnswer,
    replay_or_refuse,
)
from infra.db.idempotency import SqlIdempotencyStore

# The request's result (a payment, a refund and its payment, or a final DomainError) as the
# answer stored and replayed (the API layer's serialized response or error status), with the
# response message itself for a success (so that the API layer does not build it again).
Render = Callable[[object], tuple[StoredAnswer, object | None]]


class RequestClaim:
    """Built per keyed request by the API layer; shared by the request's units of work."""

    def __init__(
        self,
        store: SqlIdempotencyStore,
        key: IdempotencyKey,
        *,
        fingerprint: str,
        lease: timedelta,
        render: Render,
        clock: Callable[[], datetime],
        deferred: bool = False,
    ) -> None:
        self._store = store
        self.key = key
        self._fingerprint = fingerprint
        self._lease = lease
        self._render = render
        self._clock = clock
        # The request's ids, seeded by the claim (the use case's Deps.ids), and how many of
        # them committed transactions used.
        self.ids = RequestIds(key)
        self._committed_ids = 0
        self.claim: Claim | None = None  # committed
        self._pending: Claim | None = None  # in the open transaction
        self._staged: tuple[StoredAnswer, object | None] | None = None
        self.answer: StoredAnswer | None = None  # committed
        self.message: object | None = None  # the committed answer's response message
        # Claimed by the first commit (see above): when the claim will say it was made.
        self._deferred_at: datetime | None = None
        self.deferred = deferred

    async def begin(self, conn: AsyncConnection) -> None:
        """First statement of each transaction until a claim commits. Raises AlreadyAnswered,
        IdempotencyKeyInUse or IdempotencyKeyReused when the key is not ours to run."""
        if self.claim is not None:
            return
        now = self._clock()
        if self.deferred:
            if self._deferred_at is None:  # the same seed for every transaction until then
                self._deferred_at = now
                self.ids.seed(now)
            return
        claimed = await self._store.claim_in(conn, self.key, self._fingerprint, now, self._lease)
        if isinstance(claimed, tuple):
            self._pending, first_claimed_at = claimed
            self.ids.seed(first_claimed_at)
            self._committed_ids = self.ids.drawn
            return
        answer = replay_or_refuse(claimed, self._fingerprint, now)
        assert claimed.state is KeyState.COMPLETED
        raise AlreadyAnswered(answer)

    def conclude(self, result: object) -> None:
        """The request's final result: answered in the current transaction."""
        self._staged = self._render(result)

    def staged_answer(self) -> dict[str, Any] | None:
        """The parameters that store the answer staged in this transaction, if any: the unit
        of work writes them with its commit (infra/db/commit_writes.py)."""
        if self.deferred and self.claim is None:
            return None  # the claim this commit makes takes the answer with it (staged_claim)
        claim = self._pending or self.claim
        if self._staged is None or claim is None:
            return None
        return self._store.answer_params(claim, self._staged[0], self._clock())

    def staged_claim(self) -> dict[str, Any] | None:
        """The parameters of the deferred claim this transaction's commit makes, with the
        answer staged in it if any; None when the key is claimed, or claimed first."""
        if not self.deferred or self.claim is not None or self._deferred_at is None:
            return None
        self._pending = Claim(self.key, str(uuid.uuid4()))
        answer = self._staged[0] if self._staged is not None else None
        return self._store.claim_params(
            self._pending, self._fingerprint, self._deferred_at, self._lease, answer
        )

    def committed(self) -> None:
        self._committed_ids = self.ids.drawn
        if self._pending is not None:
            self.claim, self._pending = self._pending, None
        if self._staged is not None:
            (self.answer, self.message), self._staged = self._staged, None

    def rolled_back(self) -> None:
        """Also after a commit (then there is nothing left to undo)."""
        self._pending = self._staged = None
        self.ids.rewind(self._committed_ids)
