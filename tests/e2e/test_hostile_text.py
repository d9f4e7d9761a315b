"""Hostile text (issue 17): NUL characters, lone surrogates, over-long strings and oversized
maps are refused at the edge naming the field - INVALID_ARGUMENT / VALIDATION_FAILED, never
INTERNAL - over gRPC and REST, and nothing of the request is stored."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from domain.hostile_text import MAX_ENTRIES, MAX_TEXT
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsError
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.e2e.test_rest_errors import PAYMENTS, assert_error, payment_body, reason_of

HOSTILE = {
    "a NUL character": ("description", "two\x00books", "NUL"),
    "a megabyte of text": ("description", "x" * (1 << 20), f"at most {MAX_TEXT}"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_grpc_refuses_hostile_text_naming_the_field(
    payments_stub: PaymentServiceStub, case: str
) -> None:
    field, value, said = HOSTILE[case]
    order_id = new_id()
    error = await rpc_error(
        payments_stub.CreatePayment(create_request(order_id=order_id, **{field: value}))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert said in error.field_violations[field]
    # Nothing was stored: the same order, sent cleanly, gets its (first) payment.
    created = await payments_stub.CreatePayment(create_request(order_id=order_id))
    assert created.payment.status == payment_pb2.PAYMENT_STATUS_PENDING


async def test_grpc_refuses_nul_in_map_keys_and_values_and_too_many_entries(
    payments_stub: PaymentServiceStub,
) -> None:
    bad_value = await rpc_error(payments_stub.CreatePayment(create_request(metadata={"k": "\x00"})))
    assert "NUL" in bad_value.field_violations["metadata[k]"]
    bad_key = await rpc_error(payments_stub.CreatePayment(create_request(metadata={"\x00": "v"})))
    assert "NUL" in bad_key.field_violations["metadata"]  # the key itself is not echoed
    many = {f"k{n}": "v" for n in range(MAX_ENTRIES + 1)}
    too_many = await rpc_error(payments_stub.CreatePayment(create_request(metadata=many)))
    assert f"at most {MAX_ENTRIES}" in too_many.field_violations["metadata"]
    for error in (bad_value, bad_key, too_many):
        assert error.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_every_operation_refuses_nul_not_internal(payments_stub: PaymentServiceStub) -> None:
    """The routes the fuzzer found answering INTERNAL: each with a NUL in its free text."""
    created = await payments_stub.CreatePayment(create_request(authorize=True))
    pid = created.payment.payment_id
    calls: dict[str, Any] = {
        "reason": payments_stub.RefundPayment(
            pb.RefundPaymentRequest(payment_id=pid, amount_minor=1, reason="x\x00")
        ),
        "payment_id": payments_stub.CapturePayment(pb.CapturePaymentRequest(payment_id="\x00")),
        "request_id": payments_stub.CancelPayment(
            pb.CancelPaymentRequest(payment_id=pid, request_id="k\x00")
        ),
    }
    for field, call in calls.items():
        error = await rpc_error(call)
        assert error.code is grpc.StatusCode.INVALID_ARGUMENT, (field, error)
        assert field in error.field_violations, (field, error)
    assert (
        await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))
    ).payment.status == (payment_pb2.PAYMENT_STATUS_AUTHORIZED)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b'"two\\u0000books"', "NUL"),
        (b'"two\\ud800books"', "lone surrogate"),
    ],
)
async def test_rest_refuses_nul_and_lone_surrogates_with_a_400(
    rest_client: httpx.AsyncClient, raw: bytes, said: str
) -> None:
    body = payment_body()
    # JSON escapes written by hand: a client's encoder would refuse to make a lone surrogate.
    text = httpx.Request("POST", "http://x", json=body).content.decode()
    raw_body = text[:-1].encode() + b', "description": ' + raw + b"}"
    response = await rest_client.post(
        PAYMENTS, content=raw_body, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert reason_of(error) == "VALIDATION_FAILED"
    bad_request = next(d for d in error["details"] if d["@type"].endswith("BadRequest"))
    [violation] = bad_request["field_violations"]
    assert violation["field"] == "description" and said in violation["description"]
    # Nothing was stored: the same order, sent cleanly, gets its (first) payment.
    clean = await rest_client.post(PAYMENTS, json=body)
    assert clean.status_code == 200, clean.text


async def test_a_string_that_is_not_utf8_is_refused_by_the_parser_not_internal(
    channel: grpc.aio.Channel,
) -> None:
    """Protobuf strings must be UTF-8: a request that is not never reaches the servicer, and
    is answered INVALID_ARGUMENT (gRPC alone would say UNKNOWN, with the parser's exception)."""
    field = pb.CreatePaymentRequest.DESCRIPTOR.fields_by_name["description"]
    raw = create_request().SerializeToString()
    raw += bytes([field.number << 3 | 2, 2]) + b"\xff\xfe"  # a string field, not UTF-8
    call = channel.unary_unary(
        "/payments.v1.PaymentService/CreatePayment",
        request_serializer=lambda b: b,
        response_deserializer=pb.CreatePaymentResponse.FromString,
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(raw)
    error = PaymentsError.from_rpc_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert "bad UTF-8" in error.field_violations["request"]
