"""Server interceptors: request context, logging and error mapping around every unary call."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from domain.actor import Actor, ActorKind
from domain.errors import DomainError
from domain.validation import contains_card_number
from server.context import actor_var, caller_var, request_id_var
from server.errors import domain_error_status, internal_status, status_code

log = logging.getLogger("payments.rpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None


MAX_REQUEST_ID = 128


def _request_id(given: str | None) -> str:
    """The caller's x-request-id, or a fresh one when it is missing, too long to log, or holds
    a card number (it is logged with every line and echoed back)."""
    if given and len(given) <= MAX_REQUEST_ID and not contains_card_number(given):
        return given
    return str(uuid.uuid4())


def with_behavior(handler: grpc.RpcMethodHandler, behavior: Behavior) -> grpc.RpcMethodHandler:
    """The same unary handler, running `behavior` (which wraps the original) instead."""
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class UnaryInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """The service's interceptors: each wraps the unary handler of every method it applies to
    with `wrap`; streaming handlers (reflection) and other methods pass through untouched."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or not self.applies_to(method):
            return handler
        return with_behavior(handler, self.wrap(method, handler.unary_unary))

    def applies_to(self, method: str) -> bool:
        """By default the service's own methods, not health and reflection."""
        return not method.startswith("/grpc.")

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        raise NotImplementedError


class RequestInterceptor(UnaryInterceptor):
    """Gives each call a request id (x-request-id, echoed back), logs it with its outcome and
    duration, and turns exceptions into statuses: DomainError -> its code + ErrorInfo, anything
    else -> INTERNAL with nothing leaked."""

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        return _wrap(method, behavior)


def _wrap(method: str, behavior: Behavior) -> Behavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        request_id = _request_id(_metadata_value(context, "x-request-id"))
        token = request_id_var.set(request_id)
        # Who is acting until authentication (inside this interceptor) says who it is: the
        # request id and peer are known here already, and reach the audit trail.
        anonymous = Actor(
            ActorKind.ANONYMOUS, caller_var.get(), request_id=request_id, origin=context.peer()
        )
        actor_token = actor_var.set(anonymous)
        started = time.perf_counter()
        outcome = "OK"
        try:
            await context.send_initial_metadata((("x-request-id", request_id),))
            try:
                return await behavior(request, context)
            except DomainError as error:
                status = domain_error_status(error)
                outcome = f"{status_code(status.code).name}:{error.reason}"
            except grpc.aio.AbortError:
                outcome = "ABORTED_BY_HANDLER"
                raise
            except Exception:
                log.exception("unhandled error in %s", method)
                status = internal_status()
                outcome = "INTERNAL"
            await context.abort_with_status(rpc_status.to_status(status))
        finally:
            log.info(
                "rpc %s %s %.1fms",
                method,
                outcome,
                (time.perf_counter() - started) * 1000,
                extra={"request_id": request_id, "rpc": method, "outcome": outcome},
            )
            actor_var.reset(actor_token)
            request_id_var.reset(token)

    return wrapped
