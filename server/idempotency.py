"""Idempotency for every RPC whose request has a `request_id` (AIP-155), as an interceptor.

The servicers stay unaware of it: the first request with a key runs, its response (or final
error status) is stored serialized, and later requests with the same key get the stored
bytes back - marked with the `idempotent-replayed: true` trailer.
"""

from __future__ import annotations

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
from server.interceptors import Behavior, UnaryInterceptor

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


class IdempotencyInterceptor(UnaryInterceptor):
    def __init__(self, idempotency: Idempotency) -> None:
        self._idempotency = idempotency

    def applies_to(self, method: str) -> bool:
        descriptor = method_descriptor(method)  # reads and foreign services have no key
        return descriptor is not None and KEY_FIELD in descriptor.input_type.fields_by_name

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        descriptor = method_descriptor(method)
        assert descriptor is not None  # applies_to said so
        response_type = message_factory.GetMessageClass(descriptor.output_type)
        return self._wrap(method, behavior, response_type)

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
