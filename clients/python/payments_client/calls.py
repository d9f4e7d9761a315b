"""One logical call of the grpcio clients: the protobuf request with its idempotency key,
on top of the transport-independent attempts and retry loop of retrying.py."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Generic

from payments_client.policy import CallSettings, RetryHook
from payments_client.retrying import Attempts
from payments_client.rpcs import Req, Resp, Rpc


@dataclass(kw_only=True)
class LogicalCall(Attempts, Generic[Req, Resp]):
    """The state of one logical call across its attempts."""

    rpc: Rpc[Req, Resp]
    request: Req  # as sent on every attempt: the same request_id each time

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
        current = getattr(request, "request_id", "") if rpc.has_request_id else ""
        attempts = Attempts.plan(
            rpc.method,
            read=rpc.read,
            keyed=rpc.has_request_id,
            settings=settings,
            timeout=timeout,
            request_id=request_id,
            request_key=current,
            on_retry=on_retry,
        )
        if attempts.request_id != current:
            # The caller's message is left as it was: the key goes on a copy.
            keyed = rpc.request_type()
            keyed.CopyFrom(request)
            setattr(keyed, "request_id", attempts.request_id)  # noqa: B010 - generic
            request = keyed
        planned = {f.name: getattr(attempts, f.name) for f in fields(Attempts)}
        return cls(**planned, rpc=rpc, request=request)
