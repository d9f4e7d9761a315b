"""Runs due retries from the durable schedule (a background job in every replica; claims
with a lease keep two workers off the same retry)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from domain.actor import Actor, ActorKind
from domain.commands import AuthorizePayment
from domain.errors import (
    DomainError,
    GatewayOutcomeUnknown,
    InvalidStateTransition,
    OperationInProgress,
)
from domain.retry import RetryOperation, ScheduledRetry
from domain.usecases.deps import Deps
from domain.usecases.operations import authorize_payment
from domain.usecases.refunds import retry_refund
from domain.usecases.retries import schedule_authorization_retry, soft_failure_of

log = logging.getLogger("payments.retries")


class RetryOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # the operation went through
    RESCHEDULED = "rescheduled"  # failed softly again: a later attempt is scheduled
    ENDED = "ended"  # failed for good, or no longer needed: taken off the schedule
    DEFERRED = "deferred"  # another attempt is running or its outcome is unknown: left


RETRY_WORKER = Actor(ActorKind.SYSTEM, "retry-worker", origin="job:retries")


@dataclass
class RetryWorker:
    deps: Callable[[Actor], Deps]
    lease: timedelta = timedelta(minutes=2)
    batch: int = 50
    # Told how each run ended (RetryOutcome): the service counts them for its operators.
    on_outcome: Callable[[str], object] = lambda _outcome: None

    async def run_once(self) -> int:
        """Runs the due retries; returns how many were taken."""
        deps = self.deps(RETRY_WORKER)
        async with deps.uow as uow:
            due = await uow.retries.claim_due(deps.clock.now(), self.batch, self.lease)
            await uow.commit()
        for retry in due:
            await self._run(retry)
        return len(due)

    async def _run(self, retry: ScheduledRetry) -> None:
        outcome = await self._attempt(retry)
        self.on_outcome(outcome)

    async def _attempt(self, retry: ScheduledRetry) -> str:
        deps = self.deps(RETRY_WORKER)
        try:
            if retry.operation is RetryOperation.REFUND:
                await retry_refund(retry.payment_id, retry.target_id, retry.attempt + 1, deps)
            else:
                await authorize_payment(AuthorizePayment(retry.payment_id), deps, retry=False)
        except (OperationInProgress, GatewayOutcomeUnknown):
            return RetryOutcome.DEFERRED  # the claim's lease runs out, the retry comes round
        except InvalidStateTransition:
            outcome = RetryOutcome.ENDED  # the payment moved on: nothing left to retry
        except DomainError as error:
            failure = soft_failure_of(error)
            # An open circuit is not an attempt: the gateway was not even asked.
            attempt = (
                retry.attempt if error.metadata.get("circuit") == "OPEN" else retry.attempt + 1
            )
            if (
                failure is not None
                and retry.operation is RetryOperation.AUTHORIZE
                and await schedule_authorization_retry(deps, retry.payment_id, attempt, failure)
            ):
                return RetryOutcome.RESCHEDULED
            log.info("retry ended: %s", error.reason, extra={"payment_id": retry.payment_id})
            outcome = RetryOutcome.ENDED
        else:
            outcome = RetryOutcome.SUCCEEDED
        async with deps.uow as uow:
            await uow.retries.remove(retry)
            await uow.commit()
        return outcome
