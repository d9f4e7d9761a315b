"""Automatic retries of soft failures, from a durable schedule.

Soft failures - the gateway unreachable after failover, rate limits, soft declines such as a
processing error - are worth trying again later; hard declines (insufficient funds, stolen
card) never are. Each retry waits exponentially longer with full jitter, so that replicas and
payments retried together do not hit a recovering gateway in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class RetryOperation(StrEnum):
    AUTHORIZE = "AUTHORIZE"
    REFUND = "REFUND"


# Failure codes that say "not now" rather than "no".
SOFT_FAILURES = frozenset(
    {
        "GATEWAY_UNAVAILABLE",
        "PROCESSING_ERROR",
        "TRY_AGAIN_LATER",
        "RATE_LIMITED",
        "ISSUER_UNAVAILABLE",
        "REENTER_TRANSACTION",
    }
)


def is_soft(failure_code: str | None, *, soft_hint: bool = False) -> bool:
    return soft_hint or failure_code in SOFT_FAILURES


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    payment_id: str
    operation: RetryOperation
    # The refund to retry, for REFUND; the payment itself for AUTHORIZE.
    target_id: str
    attempt: int
    run_at: datetime
    last_failure: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)

    def next_run(self, attempt: int, now: datetime, rng: random.Random) -> datetime | None:
        """When retry number `attempt` (1-based) should run, or None when out of attempts."""
        if attempt > self.max_attempts:
            return None
        ceiling = min(self.cap, self.base * (1 << (attempt - 1)))
        return now + ceiling * rng.uniform(0.5, 1.0)  # "equal jitter": never instant
