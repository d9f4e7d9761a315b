"""The Python client refuses, before sending, what the server's edge would refuse: the same
rules (the contract's buf.validate options), the same reason and field paths."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from payments.v1 import fx_service_pb2 as fx
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments_betterproto import PaymentsClient as BetterprotoClient
from payments_betterproto.proto.payments import v1
from payments_betterproto.validation import as_protobuf
from payments_client import (
    InvalidArgument,
    PaymentsClient,
    RequestValidator,
    SyncPaymentsClient,
    validate_request,
)
from server.contract_rules import ContractRules

ID = "0b7f3b1e-0000-4000-8000-000000000001"
VALID = pb.CreatePaymentRequest(
    order_id=ID,
    user_id=ID,
    amount_minor=1099,
    currency="EUR",
    payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
    payment_method_token="pm_card_visa",
)
INVALID = [
    pb.CreatePaymentRequest(order_id="order-1", amount_minor=-5, currency="eur", user_id=""),
    pb.CreatePaymentRequest(metadata={"k" * 41: "v", "ok": "x" * 501}, country="de"),
    pb.CreatePaymentRequest(payment_method_id=ID, payment_method_token="pm_card_visa"),
    pb.CapturePaymentRequest(payment_id="nope", amount_minor=0),
    pb.ListPaymentsRequest(page_size=501, order_by="x" * 65),
    fx.CreateFxQuoteRequest(source_currency="EUR", target_currency="EUR"),
]


@pytest.mark.parametrize("request_", INVALID, ids=lambda r: type(r).__name__)
def test_the_client_and_the_server_name_the_same_fields(request_: object) -> None:
    client_side = RequestValidator().violations(request_)
    server_side = {v.field for v in ContractRules().violations(request_)}
    assert client_side and set(client_side) == server_side


def test_a_valid_request_passes() -> None:
    validate_request(VALID)
    assert not RequestValidator().violations(VALID)


def test_validate_request_raises_the_servers_error() -> None:
    with pytest.raises(InvalidArgument) as refused:
        validate_request(pb.CreatePaymentRequest(currency="EURO"))
    error = refused.value
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert {"order_id", "user_id", "amount_minor", "currency"} <= set(error.field_violations)


async def test_the_async_client_refuses_locally_without_a_round_trip() -> None:
    # Nothing listens on port 1: a request that were sent would fail UNAVAILABLE instead.
    client = PaymentsClient("127.0.0.1:1", validate=True)
    try:
        with pytest.raises(InvalidArgument) as refused:
            await client.create_payment(pb.CreatePaymentRequest(amount_minor=-1), timeout=5)
        assert "amount_minor" in refused.value.field_violations
    finally:
        await client.close()


def test_the_sync_client_refuses_locally_without_a_round_trip() -> None:
    client = SyncPaymentsClient("127.0.0.1:1", validate=True)
    try:
        with pytest.raises(InvalidArgument) as refused:
            client.capture_payment(pb.CapturePaymentRequest(payment_id="x"), timeout=5)
        assert "payment_id" in refused.value.field_violations
    finally:
        client.close()


@pytest.mark.parametrize("request_", INVALID, ids=lambda r: type(r).__name__)
def test_the_betterproto_client_names_the_same_fields(request_: Any) -> None:
    """The dataclass of the same request (read from the same bytes) breaks the same rules."""
    dataclass_request = betterproto_class(request_).parse(request_.SerializeToString())
    client_side = RequestValidator().violations(as_protobuf(dataclass_request))
    server_side = {v.field for v in ContractRules().violations(request_)}
    assert client_side and set(client_side) == server_side


async def test_the_betterproto_client_refuses_locally_without_a_round_trip() -> None:
    client = BetterprotoClient("127.0.0.1:1", validate=True)
    try:
        with pytest.raises(InvalidArgument) as refused:
            await client.capture_payment(v1.CapturePaymentRequest(payment_id="x"), timeout=5)
        assert "payment_id" in refused.value.field_violations
        # A valid request passes the check (and then fails to connect: nothing listens).
        with pytest.raises(Exception) as unsent:
            await client.get_payment(v1.GetPaymentRequest(payment_id=ID), timeout=1)
        assert not isinstance(unsent.value, InvalidArgument)
    finally:
        client.close()


def betterproto_class(request: Any) -> Any:
    return getattr(v1, type(request).__name__)
