"""The Python client's retry rules and call preparation (clients/python), without I/O."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from payments.v1 import payment_service_pb2 as pb
from payments_client import CallSettings, EnvConfig, PaymentsError, RetryPolicy
from payments_client.calls import LogicalCall
from payments_client.errors import (
    Conflict,
    FailedPrecondition,
    PaymentDeclined,
    RateLimited,
    error_class,
)
from payments_client.policy import is_retryable, next_delay
from payments_client.rpcs import CAPTURE_PAYMENT, GET_PAYMENT

C = grpc.StatusCode


def error(code: grpc.StatusCode, reason: str = "", delay: float | None = None) -> PaymentsError:
    return error_class(code, reason)(code, "", reason=reason, retry_delay_seconds=delay)


@pytest.mark.parametrize(
    ("code", "reason", "read", "keyed", "retry"),
    [
        (C.UNAVAILABLE, "", True, False, True),
        (C.UNAVAILABLE, "", False, True, True),
        (C.UNAVAILABLE, "", False, False, False),  # a keyless write may have acted
        (C.DEADLINE_EXCEEDED, "", True, False, True),
        (C.DEADLINE_EXCEEDED, "", False, True, True),
        (C.DEADLINE_EXCEEDED, "", False, False, False),
        (C.ABORTED, "IDEMPOTENCY_KEY_IN_USE", False, True, True),
        (C.ABORTED, "OPERATION_IN_PROGRESS", False, True, False),
        (C.ABORTED, "CONCURRENT_MODIFICATION", False, True, False),
        (C.RESOURCE_EXHAUSTED, "RATE_LIMITED", False, False, True),
        (C.FAILED_PRECONDITION, "CARD_DECLINED", False, True, False),
        (C.INVALID_ARGUMENT, "VALIDATION_FAILED", False, True, False),
        (C.INTERNAL, "", True, True, False),
    ],
)
def test_what_is_retried(
    code: grpc.StatusCode, reason: str, read: bool, keyed: bool, retry: bool
) -> None:
    assert is_retryable(error(code, reason), read=read, keyed=keyed) is retry


def test_backoff_grows_exponentially_with_full_jitter_and_a_ceiling() -> None:
    top = RetryPolicy(initial_backoff=0.1, multiplier=2, max_backoff=1.0, random=lambda: 1.0)
    assert [top.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    bottom = RetryPolicy(random=lambda: 0.0)
    assert bottom.backoff(3) == 0.0


def test_a_rate_limit_waits_at_least_the_servers_delay() -> None:
    settings = CallSettings(retry=RetryPolicy(random=lambda: 0.5, rate_limit_jitter=0.1))
    limited = error(C.RESOURCE_EXHAUSTED, "RATE_LIMITED", delay=2.0)
    assert next_delay(settings, limited, 1, read=True, keyed=False) == pytest.approx(2.1)


def test_attempts_are_bounded() -> None:
    settings = CallSettings(retry=RetryPolicy(max_attempts=3))
    unavailable = error(C.UNAVAILABLE)
    assert next_delay(settings, unavailable, 2, read=True, keyed=False) is not None
    assert next_delay(settings, unavailable, 3, read=True, keyed=False) is None


def test_deadlines_per_method() -> None:
    settings = CallSettings(read_deadline=2, write_deadline=20, deadlines={"CapturePayment": 60})
    assert settings.deadline("GetPayment") == 2
    assert settings.deadline("RefundPayment") == 20
    assert settings.deadline("CapturePayment") == 60


def test_a_logical_call_makes_one_key_and_keeps_the_callers() -> None:
    request = pb.CapturePaymentRequest(payment_id="p")
    call = LogicalCall.start(
        CAPTURE_PAYMENT, request, CallSettings(), timeout=None, request_id=None, on_retry=None
    )
    assert call.request_id and call.request.request_id == call.request_id
    assert request.request_id == ""  # the caller's message is not changed
    own = LogicalCall.start(
        CAPTURE_PAYMENT, request, CallSettings(), timeout=3, request_id="k", on_retry=None
    )
    assert (own.request.request_id, own.timeout) == ("k", 3)
    read = LogicalCall.start(
        GET_PAYMENT,
        pb.GetPaymentRequest(),
        CallSettings(),
        timeout=None,
        request_id=None,
        on_retry=None,
    )
    assert read.request_id == ""
    with pytest.raises(TypeError):
        LogicalCall.start(
            GET_PAYMENT,
            request,
            CallSettings(),
            timeout=None,
            request_id=None,
            on_retry=None,
        )


def test_failed_preconditions_split_into_declines_and_state_conflicts() -> None:
    assert error_class(C.FAILED_PRECONDITION, "INSUFFICIENT_FUNDS") is PaymentDeclined
    assert error_class(C.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION") is FailedPrecondition
    assert error_class(C.ABORTED, "IDEMPOTENCY_KEY_IN_USE") is Conflict
    assert error_class(C.RESOURCE_EXHAUSTED, "RATE_LIMITED") is RateLimited


def test_from_env(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"CA")
    (tmp_path / "c.pem").write_bytes(b"CERT")
    (tmp_path / "k.pem").write_bytes(b"KEY")
    plain = EnvConfig.read({"PAYMENTS_GRPC_TARGET": "http://svc:9090", "PAYMENTS_TOKEN": "t0k"})
    assert (plain.target, plain.token, plain.tls) == ("svc:9090", "t0k", None)
    assert "t0k" not in repr(plain)
    mutual = EnvConfig.read(
        {
            "PAYMENTS_GRPC_TARGET": "svc:443",
            "PAYMENTS_TLS_CA": str(tmp_path / "ca.pem"),
            "PAYMENTS_TLS_CERT": str(tmp_path / "c.pem"),
            "PAYMENTS_TLS_KEY": str(tmp_path / "k.pem"),
            "PAYMENTS_WRITE_DEADLINE": "45",
            "PAYMENTS_MAX_ATTEMPTS": "2",
        }
    )
    assert mutual.tls is not None and mutual.tls.private_key == b"KEY"
    assert "KEY" not in repr(mutual)
    assert (mutual.settings.write_deadline, mutual.settings.retry.max_attempts) == (45, 2)
    assert EnvConfig.read({"PAYMENTS_GRPC_TARGET": "https://svc"}).tls is not None
    assert EnvConfig.read({}).target == "127.0.0.1:9090"
    with pytest.raises(ValueError, match="together"):
        EnvConfig.read({"PAYMENTS_TLS_CERT": str(tmp_path / "c.pem")})


def test_the_event_parser_has_every_field_of_the_contract() -> None:
    from dataclasses import fields  # noqa: PLC0415

    from payments.v1 import events_pb2  # noqa: PLC0415
    from payments.v1.event_options_pb2 import event_type  # noqa: PLC0415
    from payments_client.events import EVENT_TYPES, json_name  # noqa: PLC0415

    contract = {
        m.GetOptions().Extensions[event_type]: {f.json_name for f in m.fields}
        for m in events_pb2.DESCRIPTOR.message_types_by_name.values()
        if m.GetOptions().Extensions[event_type].startswith("payment.")
    }
    parser = {name: {json_name(f.name) for f in fields(kind)} for name, kind in EVENT_TYPES.items()}
    assert parser == contract


def test_the_event_parser_keeps_amounts_exact() -> None:
    from decimal import Decimal  # noqa: PLC0415

    from payments_client.events import EventParseError, PaymentRefunded  # noqa: PLC0415
    from payments_client.events import parse_payment_event as parse  # noqa: PLC0415

    value = (
        b'{"eventId":"e","paymentId":"p","refundId":"r","amount":0.10,'
        b'"timestamp":"2026-01-02T03:04:05.123Z","orderId":"o","currency":"KWD",'
        b'"amountMinor":100,"transactionId":"t","settlementAmount":0.3,'
        b'"settlementCurrency":"USD","settlementAmountMinor":30,"exchangeRate":"3.000001"}'
    )
    event = parse(value, headers=[("ce_type", b"payment.refunded")])
    assert isinstance(event, PaymentRefunded)
    assert (event.amount, event.settlement_amount) == (Decimal("0.10"), Decimal("0.3"))
    assert event.exchange_rate == Decimal("3.000001")
    assert event.timestamp.utcoffset() is not None
    with pytest.raises(EventParseError, match="amountMinor"):
        parse(
            value.replace(b'"amountMinor":100', b'"amountMinor":"100"'),
            event_type="payment.refunded",
        )
    with pytest.raises(EventParseError):
        parse(value, event_type="order.confirmed")


def test_the_clients_have_a_method_for_every_rpc_of_the_public_services() -> None:
    from payments.v1 import (  # noqa: PLC0415
        analytics_service_pb2,
        dispute_service_pb2,
        fx_service_pb2,
        payment_method_service_pb2,
        payment_service_pb2,
    )
    from payments_client import PaymentsClient, SyncPaymentsClient  # noqa: PLC0415
    from payments_client.rpcs import Rpc  # noqa: PLC0415

    rpcs = {
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
    for client in (PaymentsClient, SyncPaymentsClient):
        bound = {
            value.rpc.path
            for value in vars(client).values()
            if isinstance(getattr(value, "rpc", None), Rpc)
        }
        assert bound == rpcs, client
