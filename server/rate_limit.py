"""Rate limiting per caller, as a server interceptor.

It must run after authentication (which sets server.context.actor_var) and before the
idempotency interceptor (a refused call claims no key). Health and reflection
(/grpc.*) are exempt. A refused call fails with RESOURCE_EXHAUSTED, ErrorInfo RATE_LIMITED
and a google.rpc.RetryInfo retry_delay; the REST shim answers 429 with Retry-After.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import grpc

from domain.errors import RateLimited
from domain.rate_limit import RateLimiter, caller_key
from server.auth import FORWARDED_FOR_HEADER
from server.context import actor_var
from server.interceptors import Behavior, UnaryInterceptor

# FORWARDED_FOR_HEADER is set by the REST shim (in this process, over loopback) to the HTTP
# client's address; trusted only from a loopback peer, so remote gRPC callers cannot choose
# whose allowance they use.


def peer_host(peer: str) -> str:
    """'ipv4:10.0.0.7:51234' -> '10.0.0.7'; 'ipv6:[::1]:5' -> '::1'; else the peer as is."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return peer


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.startswith("unix")


def client_address(context: grpc.aio.ServicerContext) -> str:
    host = peer_host(context.peer() or "unknown")
    if _is_loopback(host):
        for item in context.invocation_metadata() or ():
            if item.key == FORWARDED_FOR_HEADER and item.value:
                return str(item.value)
    return host


class RateLimitInterceptor(UnaryInterceptor):
    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            caller = caller_key(actor_var.get(), client_address(context))
            verdict = await self._limiter.acquire(caller)
            if not verdict.allowed:
                raise RateLimited(verdict.retry_after_seconds)
            return await behavior(request, context)

        return wrapped
