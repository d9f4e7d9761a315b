"""gRPC statuses as AIP-193 HTTP errors:
{"error": {"code": 409, "status": "ABORTED", "message": ..., "details": [...]}}."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import (
    error_details_pb2,  # also registers the detail types for JSON
    status_pb2,
)
from grpc_status import rpc_status
from starlette.responses import JSONResponse

from domain.errors import DomainError
from server.errors import ERROR_DOMAIN, domain_error_status

# The standard mapping (google/rpc/code.proto, grpc-gateway).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.DATA_LOSS: 500,
}

# For errors the shim itself raises (no gRPC call made).
_STATUS_OF_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error_body(
    code: int, status: str, message: str, details: list[Any] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message, "details": details or []}}


# The ErrorInfo reason of each: every 4xx names its reason, as the gRPC answers do (the fuzz
# suite, tests/fuzz/test_rest_fuzz.py, holds the shim to it).
_REASON_OF_HTTP = {
    400: "MALFORMED_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ROUTE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def http_error(code: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error of the shim's own (routing, body, query), in the same shape."""
    status = _STATUS_OF_HTTP.get(code, "UNKNOWN")
    info = error_details_pb2.ErrorInfo(
        reason=_REASON_OF_HTTP.get(code, status), domain=ERROR_DOMAIN
    )
    details = [
        {"@type": f"type.googleapis.com/{info.DESCRIPTOR.full_name}"}
        | {"reason": info.reason, "domain": info.domain}
    ]
    return JSONResponse(
        error_body(code, status, message, details), status_code=code, headers=headers
    )


def _code_of(number: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


def retry_after(error: grpc.aio.AioRpcError) -> str | None:
    """Retry-After (whole seconds, at least 1) from the status's google.rpc.RetryInfo."""
    status: status_pb2.Status | None = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info) and info.HasField("retry_delay"):
            return str(max(1, math.ceil(info.retry_delay.ToNanoseconds() / 1e9)))
    return None


def status_body(status: status_pb2.Status) -> tuple[int, dict[str, Any]]:
    """HTTP status and AIP-193 body of a google.rpc.Status."""
    code = _code_of(status.code)
    details = [
        json_format.MessageToDict(detail, preserving_proto_field_name=True)
        for detail in status.details
    ]
    http = HTTP_STATUS.get(code, 500)
    return http, error_body(http, code.name, status.message, details)


def rpc_error_body(error: grpc.aio.AioRpcError) -> tuple[int, dict[str, Any]]:
    """HTTP status and AIP-193 body of a failed call, details from google.rpc.Status."""
    status: status_pb2.Status | None = rpc_status.from_call(error)
    if status is None:
        code = error.code()
        http = HTTP_STATUS.get(code, 500)
        return http, error_body(http, code.name, error.details() or "", [])
    return status_body(status)


def domain_error_body(error: DomainError) -> tuple[int, dict[str, Any]]:
    """A domain error the shim raises itself, answered exactly as the gRPC server would."""
    return status_body(domain_error_status(error))


def _error_info(body: dict[str, Any]) -> dict[str, Any]:
    for detail in body["error"]["details"]:
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return dict(detail)
    return {}


def auth_challenge(http: int, body: dict[str, Any]) -> dict[str, str]:
    """The WWW-Authenticate header of a 401 or 403 (RFC 6750 section 3)."""
    realm = 'Bearer realm="payment-service"'
    info = _error_info(body)
    if http == 401:
        if info.get("reason") == "TOKEN_MISSING":
            return {"WWW-Authenticate": realm}
        return {"WWW-Authenticate": f'{realm}, error="invalid_token"'}
    if http == 403 and info.get("reason") == "INSUFFICIENT_SCOPE":
        scope = info.get("metadata", {}).get("required_scope", "")
        return {"WWW-Authenticate": f'{realm}, error="insufficient_scope", scope="{scope}"'}
    return {}
