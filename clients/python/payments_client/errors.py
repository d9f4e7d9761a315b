"""Typed errors of the payment service, decoded from the AIP-193 details of a failed call.

The server puts a `google.rpc.Status` in the `grpc-status-details-bin` trailer: an
`ErrorInfo` (a stable `reason`, domain, metadata), for invalid input a `BadRequest` (field
violations), for a rate limit a `RetryInfo` (how long to wait). `PaymentsError.from_rpc_error`
decodes them into one exception class per family of reasons, so callers catch
`PaymentDeclined` or `NotFound` instead of matching strings:

    try:
        await client.authorize_payment(request)
    except PaymentDeclined as declined:
        print(declined.decline_code)        # CARD_DECLINED, INSUFFICIENT_FUNDS, ...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"

# FAILED_PRECONDITION reasons that are a state or amount conflict, not a gateway decline.
_PRECONDITION_REASONS = frozenset(
    {
        "FX_RATE_UNAVAILABLE",
        "FX_QUOTE_EXPIRED",
        "INVALID_STATE_TRANSITION",
        "AMOUNT_EXCEEDS_CAPTURABLE",
        "AMOUNT_EXCEEDS_REFUNDABLE",
        "PAYMENT_METHOD_UNUSABLE",
        "NO_GATEWAY_AVAILABLE",
        "SCA_EXEMPTION_UNSUPPORTED",
    }
)


@dataclass
class PaymentsError(Exception):
    """A failed call: its status code, message and decoded details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # field -> description, for INVALID_ARGUMENT
    field_violations: dict[str, str] = field(default_factory=dict)
    # The server said the call may be retried (it sent a RetryInfo).
    retryable: bool = False
    # How long the server asks the caller to wait before retrying, if it said.
    retry_delay_seconds: float | None = None
    # The request_id (idempotency key) the failed call carried, if any.
    request_id: str = ""

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> PaymentsError:
        """The typed error of a failed call (grpc.aio.AioRpcError or a sync grpc.Call)."""
        code: grpc.StatusCode = error.code()
        message: str = error.details() or ""
        trailers = error.trailing_metadata() or ()
        return decode(code, message, trailers)


class NotFound(PaymentsError):
    """NOT_FOUND: PAYMENT_NOT_FOUND, REFUND_NOT_FOUND, PAYMENT_METHOD_NOT_FOUND, ..."""


class InvalidArgument(PaymentsError):
    """INVALID_ARGUMENT; `field_violations` names each invalid field."""


class AlreadyExists(PaymentsError):
    """ALREADY_EXISTS: PAYMENT_ALREADY_EXISTS (metadata `payment_id`)."""


class PaymentDeclined(PaymentsError):
    """FAILED_PRECONDITION with a gateway decline: `decline_code` is the reason."""

    @property
    def decline_code(self) -> str:
        return self.reason


class FailedPrecondition(PaymentsError):
    """FAILED_PRECONDITION other than a decline: a state or amount that forbids the call."""


class Conflict(PaymentsError):
    """ABORTED: OPERATION_IN_PROGRESS, CONCURRENT_MODIFICATION, IDEMPOTENCY_KEY_IN_USE."""


class RateLimited(PaymentsError):
    """RESOURCE_EXHAUSTED: wait `retry_delay_seconds` before trying again."""


class Unavailable(PaymentsError):
    """UNAVAILABLE: the service or its gateway could not be reached."""


class DeadlineExceeded(PaymentsError):
    """DEADLINE_EXCEEDED: no answer in time (the call may or may not have acted)."""


class Unauthenticated(PaymentsError):
    """UNAUTHENTICATED: TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, ..."""


class PermissionDenied(PaymentsError):
    """PERMISSION_DENIED: INSUFFICIENT_SCOPE, ACTING_FOR_ANOTHER_USER."""


class InternalError(PaymentsError):
    """INTERNAL, UNKNOWN and any other code."""


_BY_CODE: dict[grpc.StatusCode, type[PaymentsError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def error_class(code: grpc.StatusCode, reason: str) -> type[PaymentsError]:
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        if reason and reason not in _PRECONDITION_REASONS:
            return PaymentDeclined
        return FailedPrecondition
    return _BY_CODE.get(code, InternalError)


def status_code(value: int) -> grpc.StatusCode:
    """The gRPC status code of its number, as any transport reports it (grpclib's Status,
    a raw `grpc-status` trailer); an unknown number is UNKNOWN."""
    return _CODES.get(value, grpc.StatusCode.UNKNOWN)


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def decode(
    code: grpc.StatusCode,
    message: str,
    trailers: Iterable[tuple[str, str | bytes]] | None,
    request_id: str = "",
) -> PaymentsError:
    """A typed error from a status code, its message and the call's trailing metadata."""
    return decode_status(code, message, _status_bytes(trailers), request_id)


def decode_status(
    code: grpc.StatusCode, message: str, details: bytes | None, request_id: str = ""
) -> PaymentsError:
    """A typed error from a status code, its message and the serialized google.rpc.Status
    of the `grpc-status-details-bin` trailer (None: the server sent none). Every transport
    ends here: grpcio's trailers (decode) and grpclib's (clients/betterproto)."""
    status = status_pb2.Status.FromString(details) if details else None
    reason, domain, metadata = "", "", {}
    violations: dict[str, str] = {}
    retryable, delay = False, None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = {v.field: v.description for v in bad.field_violations}
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retryable = True
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            if retry.HasField("retry_delay"):
                delay = retry.retry_delay.ToNanoseconds() / 1e9
    kind = error_class(code, reason)
    return kind(
        code=code,
        message=message,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=violations,
        retryable=retryable,
        retry_delay_seconds=delay,
        request_id=request_id,
    )


def _status_bytes(trailers: Iterable[tuple[str, str | bytes]] | None) -> bytes | None:
    for key, value in trailers or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            return value
    return None


__all__ = [
    "AlreadyExists",
    "Conflict",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "PaymentDeclined",
    "PaymentsError",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "decode",
    "decode_status",
    "error_class",
    "status_code",
]
