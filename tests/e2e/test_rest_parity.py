"""Every public RPC gives the same answer through the REST shim as through gRPC: the same
scenario runs both ways (answers equal but for ids and times), and reads of one resource
are equal to the byte."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import grpc
import httpx

from tests.e2e.helpers import new_id
from tests.e2e.rest_helpers import via_grpc, via_rest

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
# Differ between two runs of one scenario: ids, keys, gateway references and times.
_VOLATILE = re.compile(r"(_id|_at|_as_of|_key|reference|next_page_token|url)$")


def normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "*" if _VOLATILE.search(k) else normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def _payment_fields(**overrides: Any) -> dict[str, Any]:
    return {
        "request_id": new_id(),
        "order_id": new_id(),
        "user_id": new_id(),
        "amount_minor": "1099",
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
        "description": "parity",
        "metadata": {"cart": "42"},
    } | overrides


async def payment_scenario(call: Call) -> list[tuple[str, dict[str, Any]]]:
    """Each PaymentService RPC at least once, errors included."""
    log: list[tuple[str, dict[str, Any]]] = []

    async def step(rpc: str, fields: dict[str, Any]) -> dict[str, Any]:
        answer = await call(rpc, fields)
        log.append((rpc, answer))
        return answer

    created = await step("CreatePayment", _payment_fields())
    pid, user = created["payment"]["payment_id"], created["payment"]["user_id"]
    await step("GetPayment", {"payment_id": pid})
    await step("CapturePayment", {"payment_id": pid, "request_id": new_id()})  # not authorized
    await step("AuthorizePayment", {"payment_id": pid, "request_id": new_id()})
    await step("GetPaymentStatus", {"payment_id": pid})
    await step("CapturePayment", {"payment_id": pid, "request_id": new_id(), "amount_minor": 900})
    refunded = await step(
        "RefundPayment",
        {"payment_id": pid, "request_id": new_id(), "amount_minor": "300", "reason": "damaged"},
    )
    await step("RefundPayment", {"payment_id": pid, "request_id": new_id(), "amount_minor": 100})
    await step("GetRefund", {"refund_id": refunded["refund"]["refund_id"]})
    await step("ListRefunds", {"payment_id": pid, "page_size": 1})
    await step("ListPayments", {"filter": f'user_id = "{user}"', "page_size": 1})
    await step("GetPayment", {"payment_id": new_id()})  # not found

    challenged = await step(
        "CreatePayment",
        _payment_fields(
            payment_method_token="pm_card_authenticationRequired",
            authorize=True,
            return_url="https://shop.example/back",
        ),
    )
    cid = challenged["payment"]["payment_id"]
    await step("ConfirmPayment", {"payment_id": cid, "request_id": new_id()})
    await step("CancelPayment", {"payment_id": cid, "request_id": new_id(), "reason": "changed"})
    await step("CreatePayment", _payment_fields(currency="XXX", amount_minor=0))  # invalid
    return log


async def method_scenario(call: Call) -> list[tuple[str, dict[str, Any]]]:
    """Each PaymentMethodService RPC at least once."""
    log: list[tuple[str, dict[str, Any]]] = []
    user = new_id()

    async def step(rpc: str, fields: dict[str, Any]) -> dict[str, Any]:
        answer = await call(rpc, fields)
        log.append((rpc, answer))
        return answer

    async def add(token: str) -> str:
        added = await step(
            "AddPaymentMethod",
            {
                "request_id": new_id(),
                "user_id": user,
                "type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
                "payment_method_token": token,
            },
        )
        return str(added["payment_method"]["payment_method_id"])

    first = await add("pm_card_visa")
    second = await add("pm_card_mastercard")
    await step("ListPaymentMethods", {"user_id": user})
    await step("SetDefaultPaymentMethod", {"payment_method_id": second, "request_id": new_id()})
    await step("DeletePaymentMethod", {"payment_method_id": first, "request_id": new_id()})
    await step("ListPaymentMethods", {"user_id": user, "page_size": 10})
    await step("DeletePaymentMethod", {"payment_method_id": first, "request_id": new_id()})
    return log


def _rpcs(log: list[tuple[str, dict[str, Any]]]) -> set[str]:
    return {rpc for rpc, _ in log}


async def test_payment_service_answers_alike_over_rest_and_grpc(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient
) -> None:
    over_grpc = await payment_scenario(partial(via_grpc, channel))
    over_rest = await payment_scenario(partial(via_rest, rest_client))
    assert _rpcs(over_rest) == {
        "CreatePayment", "GetPayment", "AuthorizePayment", "ConfirmPayment", "CapturePayment",
        "CancelPayment", "GetPaymentStatus", "RefundPayment", "GetRefund", "ListRefunds",
        "ListPayments",
    }  # fmt: skip
    assert [normalized(a) for _, a in over_rest] == [normalized(a) for _, a in over_grpc]
    errors = [answer for _, answer in over_rest if "error" in answer]
    assert [e["error"] for e in errors] == ["FAILED_PRECONDITION", "NOT_FOUND", "INVALID_ARGUMENT"]


async def test_payment_method_service_answers_alike_over_rest_and_grpc(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient
) -> None:
    over_grpc = await method_scenario(partial(via_grpc, channel))
    over_rest = await method_scenario(partial(via_rest, rest_client))
    assert _rpcs(over_rest) == {
        "AddPaymentMethod", "ListPaymentMethods", "SetDefaultPaymentMethod", "DeletePaymentMethod"
    }  # fmt: skip
    assert [normalized(a) for _, a in over_rest] == [normalized(a) for _, a in over_grpc]
    assert over_rest[-1][1]["error"] == "NOT_FOUND"


async def test_reads_of_one_resource_are_identical_both_ways(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient
) -> None:
    grpc_call, rest_call = partial(via_grpc, channel), partial(via_rest, rest_client)
    created = await rest_call("CreatePayment", _payment_fields(authorize=True))
    pid = created["payment"]["payment_id"]
    await grpc_call("CapturePayment", {"payment_id": pid, "request_id": new_id()})
    refund = await rest_call("RefundPayment", {"payment_id": pid, "request_id": new_id()})
    user = created["payment"]["user_id"]
    await grpc_call(
        "AddPaymentMethod",
        {"request_id": new_id(), "user_id": user, "payment_method_token": "pm_card_amex"},
    )
    reads = [
        ("GetPayment", {"payment_id": pid}),
        ("GetPaymentStatus", {"payment_id": pid}),
        ("GetRefund", {"refund_id": refund["refund"]["refund_id"]}),
        ("ListRefunds", {"payment_id": pid}),
        ("ListPayments", {"filter": f'user_id = "{user}"', "order_by": "create_time asc"}),
        ("ListPaymentMethods", {"user_id": user}),
        ("ListAvailablePaymentMethods", {"country": "DE", "currency": "EUR", "amount_minor": 99}),
    ]
    for rpc, fields in reads:
        assert await rest_call(rpc, fields) == await grpc_call(rpc, fields), rpc
    payment = (await rest_call("GetPayment", {"payment_id": pid}))["payment"]
    assert payment["status"] == "PAYMENT_STATUS_REFUNDED"
    assert payment["amount_minor"] == "1099"  # int64 as a string (proto3 JSON)
