"""The retry loop of one logical call, independent of the transport: this package's grpcio
clients (aio.py, sync.py) and the betterproto2 client (clients/betterproto, grpclib) all run
it, so the rules of policy.py are written once.

A transport brings two things: an attempt (a function making one call with the call's key
and deadline) and a classifier turning what that call raised into a `PaymentsError` (or
None for an exception that is not a failed call, raised as it is).

    attempts = Attempts.plan("CapturePayment", read=False, keyed=True, settings=settings,
                             timeout=None, request_id=None, request_key="", on_retry=None)
    response = await run_async(attempts, attempt, classify)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from payments_client.errors import PaymentsError
from payments_client.policy import CallSettings, RetryHook, new_request_id, next_delay

T = TypeVar("T")

# What a transport's failed call raised -> the typed error, or None: not a call's failure.
Classifier = Callable[[Exception], PaymentsError | None]


def choose_request_id(given: str | None, on_request: str) -> str:
    """The key of a logical call: the caller's argument, else the one already on the
    request, else a new one - made once and then sent on every attempt."""
    return given or on_request or new_request_id()


@dataclass
class Attempts:
    """One logical call across its attempts: the key each attempt carries (empty for a
    request without a request_id field), the deadline of each, and how many were made."""

    method: str
    read: bool
    request_id: str
    timeout: float
    settings: CallSettings
    on_retry: RetryHook | None
    attempt: int = 0

    @classmethod
    def plan(
        cls,
        method: str,
        *,
        read: bool,
        keyed: bool,
        settings: CallSettings,
        timeout: float | None,
        request_id: str | None,
        request_key: str,
        on_retry: RetryHook | None,
    ) -> Attempts:
        """`keyed`: the request has a request_id field; `request_key`: its current value."""
        key = choose_request_id(request_id, request_key) if keyed else ""
        deadline = timeout if timeout is not None else settings.deadline(method)
        return cls(method, read, key, deadline, settings, on_retry)

    def retry_after(self, error: PaymentsError) -> float | None:
        """Called with the failed attempt's error: the pause before the next, or None."""
        error.request_id = self.request_id
        delay = next_delay(
            self.settings, error, self.attempt, read=self.read, keyed=bool(self.request_id)
        )
        if delay is not None and self.on_retry is not None:
            self.on_retry(self.method, self.attempt, error, delay)
        return delay


async def run_async(
    attempts: Attempts, attempt: Callable[[], Awaitable[T]], classify: Classifier
) -> T:
    """Attempts until one answers, the error is final, or the policy allows no more; the
    final error is raised typed, chained to what the transport raised."""
    while True:
        attempts.attempt += 1
        try:
            return await attempt()
        except Exception as failed:
            error = classify(failed)
            if error is None:
                raise
            delay = attempts.retry_after(error)
            if delay is None:
                raise error from failed
        await asyncio.sleep(delay)


def run_blocking(attempts: Attempts, attempt: Callable[[], T], classify: Classifier) -> T:
    """`run_async` for a blocking transport (the backoff sleeps the thread)."""
    while True:
        attempts.attempt += 1
        try:
            return attempt()
        except Exception as failed:
            error = classify(failed)
            if error is None:
                raise
            delay = attempts.retry_after(error)
            if delay is None:
                raise error from failed
        time.sleep(delay)
