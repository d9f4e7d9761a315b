"""Invalid requests get INVALID_ARGUMENT naming the field, and leave nothing behind."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import payments
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request, new_id, rpc_error


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"amount_minor": -1}, "amount_minor", "VALIDATION_FAILED"),
        ({"amount_minor": 0}, "amount_minor", "VALIDATION_FAILED"),
        ({"currency": "EURO"}, "currency", "VALIDATION_FAILED"),
        ({"currency": "eur"}, "currency", "VALIDATION_FAILED"),
        ({"currency": "XYZ"}, "currency", "UNSUPPORTED_CURRENCY"),
        ({"currency": "DEM"}, "currency", "UNSUPPORTED_CURRENCY"),
        ({"order_id": ""}, "order_id", "VALIDATION_FAILED"),
        ({"order_id": "order-1"}, "order_id", "VALIDATION_FAILED"),
        ({"user_id": ""}, "user_id", "VALIDATION_FAILED"),
        ({"payment_method_token": ""}, "payment_method_token", "VALIDATION_FAILED"),
        ({"payment_method_token": "4242424242424242"}, "payment_method_token",
         "RAW_CARD_DATA_REJECTED"),
        ({"description": "card 4000 0566 5566 5556"}, "description", "RAW_CARD_DATA_REJECTED"),
        ({"payment_method_type": "PAYMENT_METHOD_TYPE_UNSPECIFIED"}, "payment_method_type",
         "VALIDATION_FAILED"),
        ({"metadata": {"k" * 41: "v"}}, f"metadata[{'k' * 41}]", "VALIDATION_FAILED"),
    ],
)  # fmt: skip
async def test_create_payment_names_the_bad_field(
    payments_stub: PaymentServiceStub,
    engine: AsyncEngine,
    overrides: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    request = create_request(**overrides)
    error = await rpc_error(payments_stub.CreatePayment(request))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == reason
    assert field in error.field_violations
    if field != "order_id":  # the order id is valid: nothing may be stored under it
        async with engine.connect() as conn:
            stored = await conn.scalar(
                select(func.count()).where(payments.c.order_id == request.order_id)
            )
        assert stored == 0


async def test_all_bad_fields_are_reported_at_once(payments_stub: PaymentServiceStub) -> None:
    error = await rpc_error(
        payments_stub.CreatePayment(
            create_request(order_id="", amount_minor=-5, currency="EURO", user_id="x")
        )
    )
    assert set(error.field_violations) >= {"order_id", "amount_minor", "currency", "user_id"}


async def test_raw_card_numbers_are_never_echoed(payments_stub: PaymentServiceStub) -> None:
    pan = "4242424242424242"
    error = await rpc_error(payments_stub.CreatePayment(create_request(payment_method_token=pan)))
    assert pan not in str(error) and pan not in repr(error.field_violations)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.GetPayment(pb.GetPaymentRequest(payment_id="nope")),
        lambda s: s.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id="")),
        lambda s: s.CapturePayment(pb.CapturePaymentRequest(payment_id=new_id(), amount_minor=-1)),
        lambda s: s.RefundPayment(pb.RefundPaymentRequest(payment_id=new_id(), amount_minor=0)),
        lambda s: s.GetRefund(pb.GetRefundRequest(refund_id="r-1")),
        lambda s: s.ListRefunds(pb.ListRefundsRequest(payment_id=new_id(), page_token="garbage!")),
    ],
)
async def test_other_rpcs_validate_their_input(
    payments_stub: PaymentServiceStub, call: Any
) -> None:
    error = await rpc_error(call(payments_stub))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.field_violations


async def test_the_service_keeps_serving_after_bad_input(payments_stub: PaymentServiceStub) -> None:
    for _ in range(3):
        await rpc_error(payments_stub.CreatePayment(create_request(currency="EURO")))
    created = await payments_stub.CreatePayment(create_request())
    assert created.payment.payment_id
