"""What the client does around a call, shared by the async and the sync client and, through
retrying.py, by the betterproto2 client (clients/betterproto): which methods are reads,
which carry an idempotency key, their deadlines, and when a failed attempt is retried and
after how long.

The retry rule never lets a call act twice:
- UNAVAILABLE, DEADLINE_EXCEEDED: retried only for reads and for calls that carry a
  `request_id` (the server replays the first answer for a repeated key). The client gives
  every mutating call a key, made once per logical call and reused on each attempt.
- ABORTED with reason IDEMPOTENCY_KEY_IN_USE: another attempt with the same key is still
  running; retried (the same key again).
- RESOURCE_EXHAUSTED: rate limited before anything was done; retried after the server's
  RetryInfo delay.
Everything else (declines, invalid input, other conflicts, ...) is raised at once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc

from payments_client.errors import PaymentsError

# The RPCs that change nothing.
READS = frozenset(
    {
        "GetPayment",
        "GetPaymentStatus",
        "GetRefund",
        "ListRefunds",
        "ListPayments",
        "ListPaymentMethods",
        "ListAvailablePaymentMethods",
        "GetExchangeRate",
        "ListExchangeRates",
        "GetPaymentStats",
        "GetRevenue",
        "GetDisputeStats",
        "ListDisputes",
        "GetDispute",
    }
)

# Default deadline of each attempt, in seconds: reads answer from the database; calls that
# reach a payment gateway may take longer.
DEFAULT_READ_DEADLINE = 5.0
DEFAULT_WRITE_DEADLINE = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: before attempt n+1 the client waits a random
    time in [0, min(max_backoff, initial_backoff * multiplier**(n-1))], or the server's
    RetryInfo delay when it gave one (rate limits)."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    # A rate limit's delay is waited in full, plus up to this fraction of it as jitter.
    rate_limit_jitter: float = 0.1
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return ceiling * self.random()

    def delay_after(self, error: PaymentsError, attempt: int) -> float:
        if error.code is grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay_seconds:
            delay = error.retry_delay_seconds
            return delay + delay * self.rate_limit_jitter * self.random()
        return self.backoff(attempt)


NO_RETRIES = RetryPolicy(max_attempts=1)


def is_retryable(error: PaymentsError, *, read: bool, keyed: bool) -> bool:
    """Whether another attempt of a failed call can only do what the first meant to do."""
    code = error.code
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return True  # refused before acting
    if code is grpc.StatusCode.ABORTED:
        return error.reason == "IDEMPOTENCY_KEY_IN_USE" and keyed
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return read or keyed
    return False


@dataclass(frozen=True)
class CallSettings:
    """Deadlines per method and the retry policy of a client."""

    retry: RetryPolicy = RetryPolicy()
    read_deadline: float = DEFAULT_READ_DEADLINE
    write_deadline: float = DEFAULT_WRITE_DEADLINE
    # Per-method overrides, e.g. {"CreatePayment": 60.0}.
    deadlines: Mapping[str, float] = field(default_factory=dict)

    def deadline(self, method: str) -> float:
        if method in self.deadlines:
            return self.deadlines[method]
        return self.read_deadline if method in READS else self.write_deadline


def new_request_id() -> str:
    return str(uuid.uuid4())


# Called before each retry: (method, attempt that failed, its error, pause before the next).
RetryHook = Callable[[str, int, PaymentsError, float], None]


def next_delay(
    settings: CallSettings, error: PaymentsError, attempt: int, *, read: bool, keyed: bool
) -> float | None:
    """The pause before another attempt after failed attempt `attempt`, or None: raise."""
    if attempt >= settings.retry.max_attempts:
        return None
    if not is_retryable(error, read=read, keyed=keyed):
        return None
    return settings.retry.delay_after(error, attempt)
