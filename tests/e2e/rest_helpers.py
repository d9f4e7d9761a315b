"""Calling one RPC by name through gRPC or through the REST shim, both answering with the
proto3 JSON form (the shim's: proto field names) or a comparable error."""

from __future__ import annotations

import json
import re
from typing import Any

import grpc
import httpx
from google.protobuf import json_format, message_factory

from payments.v1 import payment_method_service_pb2, payment_service_pb2
from payments_client import PaymentsError

# RPC -> (HTTP method, path) as annotated in the contract.
REST: dict[str, tuple[str, str]] = {
    "CreatePayment": ("POST", "/api/v1/payments"),
    "GetPayment": ("GET", "/api/v1/payments/{payment_id}"),
    "AuthorizePayment": ("POST", "/api/v1/payments/{payment_id}/authorize"),
    "ConfirmPayment": ("POST", "/api/v1/payments/{payment_id}/confirm"),
    "CapturePayment": ("POST", "/api/v1/payments/{payment_id}/capture"),
    "CancelPayment": ("POST", "/api/v1/payments/{payment_id}/cancel"),
    "GetPaymentStatus": ("GET", "/api/v1/payments/{payment_id}/status"),
    "RefundPayment": ("POST", "/api/v1/payments/{payment_id}/refund"),
    "GetRefund": ("GET", "/api/v1/refunds/{refund_id}"),
    "ListRefunds": ("GET", "/api/v1/payments/{payment_id}/refunds"),
    "ListPayments": ("GET", "/api/v1/payments"),
    "ListPaymentMethods": ("GET", "/api/v1/payment-methods"),
    "AddPaymentMethod": ("POST", "/api/v1/payment-methods"),
    "DeletePaymentMethod": ("DELETE", "/api/v1/payment-methods/{payment_method_id}"),
    "SetDefaultPaymentMethod": ("POST", "/api/v1/payment-methods/{payment_method_id}/default"),
    "ListAvailablePaymentMethods": ("GET", "/api/v1/payment-methods/available"),
}
_SERVICES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"],
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"],
)
_VARIABLE = re.compile(r"\{(\w+)\}")


def _service_of(rpc: str) -> Any:
    return next(s for s in _SERVICES if rpc in s.methods_by_name)


def as_json(message: Any) -> dict[str, Any]:
    return json.loads(json_format.MessageToJson(message, preserving_proto_field_name=True))


def error_summary(code: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    reasons = [d["reason"] for d in details if d["@type"].endswith("google.rpc.ErrorInfo")]
    return {"error": code, "reasons": reasons}


async def via_grpc(channel: grpc.aio.Channel, rpc: str, fields: dict[str, Any]) -> dict[str, Any]:
    method = _service_of(rpc).methods_by_name[rpc]
    request = json_format.ParseDict(fields, message_factory.GetMessageClass(method.input_type)())
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{method.containing_service.full_name}/{rpc}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    try:
        return as_json(await call(request))
    except grpc.aio.AioRpcError as error:
        decoded = PaymentsError.from_rpc_error(error)
        return {"error": error.code().name, "reasons": [decoded.reason]}


async def via_rest(client: httpx.AsyncClient, rpc: str, fields: dict[str, Any]) -> dict[str, Any]:
    http_method, template = REST[rpc]
    rest = dict(fields)
    path = _VARIABLE.sub(lambda m: str(rest.pop(m.group(1))), template)
    if http_method == "POST":
        response = await client.post(path, json=rest)
    else:
        response = await client.request(http_method, path, params=rest)
    body = response.json()
    if response.status_code != 200:
        assert body["error"]["code"] == response.status_code
        return error_summary(body["error"]["status"], body["error"]["details"])
    return body
