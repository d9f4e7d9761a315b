"""A stand-in for authentication in tests of what depends on who is acting (rate limits per
caller, the reviewer of a fraud review): calls carrying `x-test-subject` act as that user,
with the scopes listed in `x-test-scopes`. Only ever installed by tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from domain.actor import Actor, ActorKind, current_actor
from server.app import PaymentApplication
from server.interceptors import Behavior, with_behavior
from server.rate_limit import RateLimitInterceptor

SUBJECT = "x-test-subject"
SCOPES = "x-test-scopes"


def acting_as(subject: str, *scopes: str) -> tuple[tuple[str, str], ...]:
    """Call metadata making the call act as `subject`."""
    return ((SUBJECT, subject), (SCOPES, ",".join(scopes)))


class SubjectFromMetadata(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return with_behavior(handler, _acting(handler.unary_unary))


def _acting(behavior: Behavior) -> Behavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        given = dict(context.invocation_metadata() or ())
        if SUBJECT not in given:
            return await behavior(request, context)
        scopes = frozenset(filter(None, str(given.get(SCOPES, "")).split(",")))
        token = current_actor.set(Actor(ActorKind.USER, str(given[SUBJECT]), scopes))
        try:
            return await behavior(request, context)
        finally:
            current_actor.reset(token)

    return wrapped


class AppWithTestSubjects(PaymentApplication):
    """The application with SubjectFromMetadata right before the rate limiter (where
    authentication's actor is read), so it also overrides a real authentication's actor."""

    def _interceptors(self, store: Any) -> list[grpc.aio.ServerInterceptor]:
        chain = super()._interceptors(store)
        limiter = [i for i, x in enumerate(chain) if isinstance(x, RateLimitInterceptor)]
        chain.insert(limiter[0] if limiter else len(chain) - 1, SubjectFromMetadata())
        return chain
