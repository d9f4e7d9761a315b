"""Decoding AIP-193 error details from a failed call."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass
class PaymentsError(Exception):
    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # field -> description, for INVALID_ARGUMENT
    field_violations: dict[str, str] = field(default_factory=dict)
    retryable: bool = False
    # How long the server asks the caller to wait before retrying (RATE_LIMITED), if it said.
    retry_delay_seconds: float | None = None

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> PaymentsError:
        decoded = cls(code=error.code(), message=error.details() or "")
        status = rpc_status.from_call(error)
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                decoded.reason, decoded.domain = info.reason, info.domain
                decoded.metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                decoded.field_violations = {v.field: v.description for v in bad.field_violations}
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                decoded.retryable = True
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                if retry.HasField("retry_delay"):
                    decoded.retry_delay_seconds = retry.retry_delay.ToNanoseconds() / 1e9
        return decoded
