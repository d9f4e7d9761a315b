"""One logical call, as both clients make it: the request with its idempotency key, the
deadline of each attempt, and the decision after a failed attempt (policy.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

from payments_client.errors import PaymentsError
from payments_client.policy import CallSettings, RetryHook, new_request_id, next_delay
from payments_client.rpcs import Req, Resp, Rpc


@dataclass
class LogicalCall(Generic[Req, Resp]):
    """The state of one logical call across its attempts."""

    rpc: Rpc[Req, Resp]
    request: Req  # as sent on every attempt: the same request_id each time
    request_id: str
    timeout: float
    settings: CallSettings
    on_retry: RetryHook | None
    attempt: int = 0

    @classmethod
    def start(
        cls,
        rpc: Rpc[Req, Resp],
        request: Req,
        settings: CallSettings,
        *,
        timeout: float | None,
        request_id: str | None,
        on_retry: RetryHook | None,
    ) -> LogicalCall[Req, Resp]:
        if not isinstance(request, rpc.request_type):
            raise TypeError(f"{rpc.method} takes a {rpc.request_type.__name__}")
        key = ""
        if rpc.has_request_id:
            # Made once per logical call; the caller's own key wins.
            key = request_id or getattr(request, "request_id", "") or new_request_id()
            if key != getattr(request, "request_id", ""):
                keyed = rpc.request_type()
                keyed.CopyFrom(request)
                setattr(keyed, "request_id", key)  # noqa: B010 - generic over request types
                request = keyed
        deadline = timeout if timeout is not None else settings.deadline(rpc.method)
        return cls(rpc, request, key, deadline, settings, on_retry)

    def retry_after(self, error: PaymentsError) -> float | None:
        """Called with the failed attempt's error: the pause before the next, or None."""
        error.request_id = self.request_id
        delay = next_delay(
            self.settings, error, self.attempt, read=self.rpc.read, keyed=bool(self.request_id)
        )
        if delay is not None and self.on_retry is not None:
            self.on_retry(self.rpc.method, self.attempt, error, delay)
        return delay
