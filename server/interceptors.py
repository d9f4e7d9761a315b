"""Server interceptors: request context, logging and error mapping around every unary call."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from domain.actor import Actor, ActorKind
from domain.errors import DomainError, FieldViolation, ValidationFailed
from server.card_digits import holds_card_number
from server.context import actor_var, caller_var, request_id_var
from server.errors import abort_with_status, domain_error_status, internal_status, status_code

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
    if given and len(given) <= MAX_REQUEST_ID and not holds_card_number(given):
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
    """One layer of the service's interceptors: it wraps the unary handler of every method it
    applies to with `wrap`; streaming handlers (reflection) and other methods pass through
    untouched. The server runs the layers as one ComposedInterceptor; each still works alone."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self.handler_for(handler_call_details.method, handler)

    def handler_for(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` of `method` with this layer around it."""
        if handler.unary_unary is None or not self.applies_to(method):
            return handler
        return with_behavior(handler, self.wrap(method, handler.unary_unary))

    def applies_to(self, method: str) -> bool:
        """By default the service's own methods, not health and reflection."""
        return not method.startswith("/grpc.")

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        raise NotImplementedError


class ComposedInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """The service's layers as one gRPC interceptor, composed once per method.

    grpc.aio runs every interceptor's intercept_service on every call, and each layer would
    build the same closures and handler again, call after call. Here the first call of a
    method wraps its handler in every layer (outermost first in `layers`, as a server's
    interceptor list) and keeps the result; later calls of that method only look it up.
    Handlers are registered before the server starts, so a method's handler never changes.
    Unknown methods are not remembered: their names are the caller's choice (and unbounded),
    and they end as UNIMPLEMENTED anyway."""

    def __init__(self, layers: Sequence[UnaryInterceptor]) -> None:
        self._innermost_first = tuple(reversed(layers))
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        # How many handlers were composed: one per method ever called (tests read it).
        self.compositions = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        composed = self._handlers.get(method)
        if composed is not None:
            return composed
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        # Two first calls may both get here; the one that comes second reuses the first's.
        composed = self._handlers.get(method)
        if composed is None:
            composed = self._handlers[method] = self._compose(method, handler)
        return composed

    def _compose(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        self.compositions += 1
        for layer in self._innermost_first:
            handler = layer.handler_for(method, handler)
        return handler


class Undecodable:
    """A request whose bytes are not a message of its type (e.g. a string field that is not
    UTF-8). gRPC would answer UNKNOWN with the parser's exception; the request interceptor
    answers INVALID_ARGUMENT instead."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as error:  # its text names the type and the problem, not the data
            return Undecodable(str(error))

    return parse


class RequestInterceptor(UnaryInterceptor):
    """Gives each call a request id (x-request-id, echoed back), logs it with its outcome and
    duration, and turns exceptions into statuses: DomainError -> its code + ErrorInfo, anything
    else -> INTERNAL with nothing leaked. A request that does not parse is INVALID_ARGUMENT."""

    def handler_for(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        wrapped = super().handler_for(method, handler)
        if wrapped is handler:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            wrapped.unary_unary,
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        return _wrap(method, behavior)


def _undecodable(request: Undecodable) -> ValidationFailed:
    return ValidationFailed(
        [FieldViolation("request", f"is not a valid message: {request.problem}")]
    )


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
                if isinstance(request, Undecodable):
                    raise _undecodable(request)
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
            await abort_with_status(context, status)
        finally:
            if log.isEnabledFor(logging.INFO):  # a muted line costs no formatting at all
                _log_rpc(method, outcome, started, request_id)
            actor_var.reset(actor_token)
            request_id_var.reset(token)

    return wrapped


def _log_rpc(method: str, outcome: str, started: float, request_id: str) -> None:
    """The one line of each call: what, how it ended, how long it took."""
    log.info(
        "rpc %s %s %.1fms",
        method,
        outcome,
        (time.perf_counter() - started) * 1000,
        extra={"request_id": request_id, "rpc": method, "outcome": outcome},
    )
