"""Request builders and error decoding shared by the end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import transactions
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsError

T = TypeVar("T")


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


async def attempt(call: Awaitable[T]) -> T | PaymentsError:
    """Await a call that may fail: its response, or its decoded AIP-193 error."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return PaymentsError.from_rpc_error(error)


async def gateway_effects(
    engine: AsyncEngine, simulator: SimulatorGateway, payment_id: str
) -> list[tuple[str, str, int]]:
    """The simulator's money-moving calls made for one payment, matched by the idempotency
    keys of the payment's transactions as stored."""
    query = select(transactions.c.idempotency_key).where(transactions.c.payment_id == payment_id)
    async with engine.connect() as conn:
        keys = set((await conn.execute(query)).scalars())
    return [effect for effect in simulator.effects if effect[1] in keys]
