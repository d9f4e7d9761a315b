"""The one translator from exceptions to gRPC statuses (AIP-193).

Domain errors become their status code plus google.rpc.ErrorInfo (reason, domain, metadata)
and, for invalid input, google.rpc.BadRequest field violations. Anything else becomes a bare
INTERNAL: internals never leak to callers.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from domain.errors import DomainError, ErrorKind, reason_of

ERROR_DOMAIN = "payments.example.com"

_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: code_pb2.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    ErrorKind.ABORTED: code_pb2.ABORTED,
    ErrorKind.UNAVAILABLE: code_pb2.UNAVAILABLE,
    ErrorKind.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    ErrorKind.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    ErrorKind.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
}


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def domain_error_status(error: DomainError) -> status_pb2.Status:
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=reason_of(error), domain=ERROR_DOMAIN, metadata=error.metadata
            )
        )
    ]
    if error.violations:
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description, reason=v.reason
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    if error.retryable:
        retry = error_details_pb2.RetryInfo()
        if error.retry_after_seconds is not None:
            retry.retry_delay.FromNanoseconds(round(error.retry_after_seconds * 1e9))
        details.append(_packed(retry))
    return status_pb2.Status(code=_CODES[error.kind], message=error.message, details=details)


def internal_status() -> status_pb2.Status:
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")


def status_code(number: int) -> grpc.StatusCode:
    """google.rpc.Code number -> grpc.StatusCode."""
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


async def abort_with_status(context: grpc.aio.ServicerContext, status: status_pb2.Status) -> None:
    """Ends the call with `status` (code, message, details in the trailers). The code is set
    first: with tracing on, the gRPC instrumentation learns a call's code from set_code and
    abort, not from abort_with_status, and would record a refused call as OK."""
    rich = rpc_status.to_status(status)
    context.set_code(rich.code)
    await context.abort_with_status(rich)
