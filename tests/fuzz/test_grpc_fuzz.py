"""Fuzzing every RPC of the contract over gRPC with hostile requests drawn from its
descriptors (tests/fuzz/hostile_requests.py): no answer is INTERNAL or UNKNOWN, every
refusal carries its google.rpc.ErrorInfo, and a refused request leaves nothing behind (no
payment for its order, no idempotency record under its key).

A fixed budget: EXAMPLES_PER_RPC derandomized examples per RPC (the same requests in every
run, only the ids are fresh), so the suite's length does not depend on the machine."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.tables import idempotency_keys, payments
from payments.v1 import payment_service_pb2
from payments_client import PaymentsError
from server.app import PaymentApplication
from server.rest.routes import contract_services
from tests.fuzz.hostile_requests import request_bytes
from tests.support.auth import admin_token

EXAMPLES_PER_RPC = 30
# A call may take long on a loaded machine; none may hang.
CALL_TIMEOUT_SECONDS = 30
# What a server must never answer, whatever the input: a bug or a leak, not a refusal.
FORBIDDEN = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNIMPLEMENTED,
}
# gRPC itself refuses a message over its size limit, before our code runs (no ErrorInfo).
MAX_MESSAGE = 3 * (1 << 20)


# (method, status code name, ErrorInfo reason)
Outcome = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Refused:
    method: str
    request: bytes
    error: PaymentsError


def _methods() -> list[MethodDescriptor]:
    return [m for service in contract_services() for m in service.methods]


def _fuzz_method(
    target: str, method: MethodDescriptor, refused: list[Refused], outcomes: Counter[Outcome]
) -> int:
    """Runs in a thread (the server shares the test's event loop): a sync channel."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    metadata = (("authorization", f"Bearer {admin_token()}"),)
    calls = 0
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            path, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )

        @given(wire=request_bytes(method.input_type))
        @settings(
            max_examples=EXAMPLES_PER_RPC,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(wire: bytes) -> None:
            nonlocal calls
            if len(wire) > MAX_MESSAGE:
                return
            calls += 1
            try:
                call(wire, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
                outcomes[(method.name, "OK", "")] += 1
            except grpc.RpcError as error:
                decoded = PaymentsError.from_rpc_error(error)
                assert decoded.code not in FORBIDDEN, f"{path}: {decoded}"
                assert decoded.reason, f"{path}: {decoded.code.name} without an ErrorInfo"
                refused.append(Refused(path, wire, decoded))
                outcomes[(method.name, decoded.code.name, decoded.reason)] += 1

        run()
    return calls


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_no_rpc_answers_internal_and_every_refusal_has_its_reason(
    app: PaymentApplication, engine: AsyncEngine
) -> None:
    target = f"127.0.0.1:{app.grpc_port}"
    refused: list[Refused] = []
    outcomes: Counter[Outcome] = Counter()
    calls = 0
    for method in _methods():
        calls += await asyncio.to_thread(_fuzz_method, target, method, refused, outcomes)
    print(*sorted(outcomes.items()), sep="\n")  # what the fuzzer reached (pytest -s)
    assert calls >= len(_methods()) * EXAMPLES_PER_RPC // 2  # it did call the server
    past_the_edge = [o for o in outcomes if o[2] != "VALIDATION_FAILED"]
    assert len({method for method, _, _ in past_the_edge}) >= len(_methods()) // 2
    invalid = [r for r in refused if r.error.code is grpc.StatusCode.INVALID_ARGUMENT]
    assert invalid  # hostile input was refused as such, not only let through
    await _assert_nothing_left_behind(engine, invalid)


async def _assert_nothing_left_behind(engine: AsyncEngine, invalid: list[Refused]) -> None:
    """A create refused as invalid stored no payment for its order and, refused at the edge,
    no idempotency record under its key."""
    creates = [
        (payment_service_pb2.CreatePaymentRequest.FromString(r.request), r.error)
        for r in invalid
        if r.method.endswith("/CreatePayment") and _parses(r.request)
    ]
    assert creates
    async with engine.connect() as conn:
        for request, error in creates:
            if _is_uuid(request.order_id):
                stored = await conn.scalar(
                    select(func.count()).where(payments.c.order_id == request.order_id)
                )
                assert stored == 0, f"{error}: a payment was stored for a refused request"
            # Only fresh keys are this request's own (a drawn "EUR" may key another call).
            if _is_uuid(request.request_id) and error.reason == "VALIDATION_FAILED":
                kept = await conn.scalar(
                    select(func.count()).where(
                        idempotency_keys.c.key == request.request_id,
                        idempotency_keys.c.method.like("%CreatePayment"),
                    )
                )
                assert kept == 0, "a request refused at the edge claimed its idempotency key"


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _parses(wire: bytes) -> bool:
    try:
        payment_service_pb2.CreatePaymentRequest.FromString(wire)
    except Exception:
        return False
    return True
