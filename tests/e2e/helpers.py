"""Request builders and error decoding shared by the end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import grpc

from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsError


def new_id() -> str:
    return str(uuid.uuid4())


def create_request(**overrides: Any) -> pb.CreatePaymentRequest:
    fields: dict[str, Any] = {
        "request_id": new_id(),
        "order_id": new_id(),
        "user_id": new_id(),
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
    }
    return pb.CreatePaymentRequest(**(fields | overrides))


async def rpc_error(call: Awaitable[Any]) -> PaymentsError:
    """Await a call that must fail; return its decoded AIP-193 error."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return PaymentsError.from_rpc_error(error)
    raise AssertionError("the call succeeded but should have failed")
