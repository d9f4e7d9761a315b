"""Idempotency for every RPC whose request has a `request_id` (AIP-155), as an interceptor.

The servicers stay unaware of it: the first request with a key runs, its response (or final
error status) is stored serialized, and later requests with the same key get the stored
bytes back - marked with the `idempotent-replayed: true` trailer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import status_pb2
from grpc_status import rpc_status

from domain.errors import DomainError, FieldViolation, ValidationFailed
from domain.idempotency import MAX_KEY_LENGTH, IdempotencyKey, StoredAnswer, fingerprint, is_final
from domain.usecases.idempotent import Idempotency
from server.context import caller_var
from server.errors import domain_error_status
from server.interceptors import Behavior, with_behavior

KEY_FIELD = "request_id"
REPLAYED_TRAILER = (("idempotent-replayed", "true"),)


def method_descriptor(full_method: str) -> MethodDescriptor | None:
    """'/payments.v1.PaymentService/CapturePayment' -> its descriptor, if it is ours."""
    service, _, name = full_method.lstrip("/").rpartition("/")
    try:
        return descriptor_pool.Default().FindServiceByName(service).methods_by_name.get(name)
    except KeyError:
        return None


def request_fingerprint(request: Any) -> str:
    """The request minus its key, serialized deterministically."""
    unkeyed = type(request)()
    unkeyed.CopyFrom(request)
    unkeyed.ClearField(KEY_FIELD)
    return fingerprint(unkeyed.SerializeToString(deterministic=True))


class IdempotencyInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, idempotency: Idempotency) -> None:
        self._idempotency = idempotency

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        descriptor = method_descriptor(method)
        if descriptor is None or KEY_FIELD not in descriptor.input_type.fields_by_name:
            return handler  # reads and foreign services have no key
        response_type = message_factory.GetMessageClass(descriptor.output_type)
        return with_behavior(handler, self._wrap(method, handler.unary_unary, response_type))

    def _wrap(self, method: str, behavior: Behavior, response_type: Any) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id = getattr(request, KEY_FIELD)
            if not request_id:
                return await behavior(request, context)  # no key: no replay protection
            if len(request_id) > MAX_KEY_LENGTH:
                raise ValidationFailed(
                    [FieldViolation(KEY_FIELD, f"must be at most {MAX_KEY_LENGTH} characters")]
                )
            first: dict[str, Any] = {}

            async def execute() -> StoredAnswer:
                try:
                    response = await behavior(request, context)
                except DomainError as error:
                    if not is_final(error):
                        raise
                    first["error"] = error
                    status = domain_error_status(error)
                    return StoredAnswer(status.code, status.SerializeToString())
                first["response"] = response
                return StoredAnswer(0, response.SerializeToString())

            key = IdempotencyKey(caller_var.get(), method, request_id)
            answer, replayed = await self._idempotency.run(
                key, request_fingerprint(request), execute
            )
            if not replayed:
                if "error" in first:
                    raise first["error"]
                return first["response"]
            context.set_trailing_metadata(REPLAYED_TRAILER)
            if answer.code == 0:
                return response_type.FromString(answer.body)
            await context.abort_with_status(
                rpc_status.to_status(status_pb2.Status.FromString(answer.body))
            )

        return wrapped
