"""The betterproto2 client's transport edge (clients/betterproto), without I/O: what grpclib
raises becomes the grpcio client's typed errors, and every RPC has its method."""

from __future__ import annotations

import grpc
import grpclib.const
import grpclib.exceptions
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from payments_betterproto import (
    DeadlineExceeded,
    InvalidArgument,
    PaymentsClient,
    RateLimited,
    Unavailable,
    rpcs,
)
from payments_betterproto.transport import failed_call, split_target
from payments_client.policy import is_retryable


def status_bytes(code: int, *details: object) -> bytes:
    status = status_pb2.Status(code=code, message="m")
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)  # type: ignore[arg-type]
        status.details.append(packed)
    return status.SerializeToString()


def test_a_grpclib_error_is_decoded_from_its_status_details_trailer() -> None:
    info = error_details_pb2.ErrorInfo(reason="VALIDATION_FAILED", domain="payments")
    bad = error_details_pb2.BadRequest(
        field_violations=[error_details_pb2.BadRequest.FieldViolation(field="currency")]
    )
    failed = grpclib.exceptions.GRPCError(
        grpclib.const.Status.INVALID_ARGUMENT, "bad", status_bytes(3, info, bad)
    )
    error = failed_call(failed)
    assert isinstance(error, InvalidArgument)
    assert (error.code, error.reason, error.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
        "bad",
    )
    assert set(error.field_violations) == {"currency"}


def test_a_rate_limit_carries_the_servers_delay() -> None:
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))
    failed = grpclib.exceptions.GRPCError(
        grpclib.const.Status.RESOURCE_EXHAUSTED, "slow down", status_bytes(8, retry)
    )
    error = failed_call(failed)
    assert isinstance(error, RateLimited) and error.retry_delay_seconds == 2.0


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (TimeoutError("Deadline exceeded"), DeadlineExceeded),
        (ConnectionRefusedError(111, "refused"), Unavailable),
        (grpclib.exceptions.StreamTerminatedError("Connection lost"), Unavailable),
    ],
)
def test_transport_failures_are_the_codes_grpcio_reports(
    raised: Exception, kind: type[Exception]
) -> None:
    error = failed_call(raised)
    assert isinstance(error, kind)
    # A keyed call or a read may be retried after them; a keyless write may not.
    assert is_retryable(error, read=False, keyed=True)
    assert not is_retryable(error, read=False, keyed=False)


def test_other_exceptions_are_not_a_failed_call() -> None:
    assert failed_call(ValueError("a bug")) is None


def test_targets() -> None:
    assert split_target("127.0.0.1:9090", tls=False) == ("127.0.0.1", 9090)
    assert split_target("[::1]:9090", tls=False) == ("::1", 9090)
    assert split_target("svc", tls=True) == ("svc", 443)
    with pytest.raises(ValueError, match="host:port"):
        split_target("svc", tls=False)


def test_the_client_has_a_method_for_every_rpc_of_the_public_services() -> None:
    from payments.v1 import (  # noqa: PLC0415
        analytics_service_pb2,
        dispute_service_pb2,
        fx_service_pb2,
        payment_method_service_pb2,
        payment_service_pb2,
    )

    paths = {
        f"/{method.full_name.rsplit('.', 1)[0]}/{method.name}"
        for module in (
            payment_service_pb2,
            payment_method_service_pb2,
            fx_service_pb2,
            analytics_service_pb2,
            dispute_service_pb2,
        )
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    bound = [value.rpc for value in vars(PaymentsClient).values() if hasattr(value, "rpc")]
    assert {rpc.path for rpc in bound} == paths
    for rpc in bound:
        assert isinstance(rpc, rpcs.Rpc)
        assert callable(getattr(rpc.stub, rpc.attribute)), rpc.method
        assert rpc.has_request_id is not rpc.read  # every write carries a key
