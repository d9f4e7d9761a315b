"""The Python client refuses, before sending, what the server's edge would refuse: the same
rules (the contract's buf.validate options), the same reason and field paths."""

from __future__ import annotations

import grpc
import pytest

from payments.v1 import fx_service_pb2 as fx
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
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
