"""The raw card data guard end to end (PCI DSS 3.3, 3.4): a card number put into every string
field of every request of every RPC (gRPC), and into every path, query, body field and the
Idempotency-Key of every route (REST), is refused with INVALID_ARGUMENT /
RAW_CARD_DATA_REJECTED naming the field; and afterwards no card number is anywhere: not in the
answers, not in the service's log lines, not in this module's own database, not in Redis.

The server runs on a database and Redis key prefix of this module's own, so that what is
searched is exactly what these requests left behind."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from sqlalchemy import func, select

from domain.enums import GatewayName
from domain.validation import contains_card_number
from infra.cache import make_redis
from infra.db.tables import idempotency_keys
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_method_service_pb2, payment_service_pb2
from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsError
from server.app import PaymentApplication
from server.logs import JsonFormatter
from server.migrate import upgrade_to_head
from server.rest.routes import build_routes, contract_services
from tests.e2e.card_injection import (
    CardNumbers,
    GrpcCase,
    RestCase,
    database_text,
    grpc_cases,
    redis_text,
    rest_cases,
    text_slots,
)
from tests.e2e.helpers import create_request, new_id
from tests.support import databases
from tests.support.channels import open_channel, rest_headers
from tests.support.servers import settings_for_tests

REFUSED = "RAW_CARD_DATA_REJECTED"
SERVICES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"],
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"],
)
METHODS: list[MethodDescriptor] = [m for s in SERVICES for m in s.methods]
# The test's own HTTP client logs the URLs it requests (with the card numbers in them): those
# lines are the caller's, not the service's.
CLIENT_LOGGERS = ("httpx", "httpcore")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def service_logs() -> Iterator[list[str]]:
    """Every log line of the process while this module runs, as the service writes them
    (JSON, extras and exceptions included), at DEBUG, before any redaction filter."""
    handler = _Lines()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="module")
def own_database(admin_database_url: str) -> Iterator[tuple[str, str]]:
    """(libpq URL, SQLAlchemy URL) of a fresh migrated database of this module's own."""
    name = databases.create_database(admin_database_url, prefix="payments_guard")
    libpq = databases.with_database(admin_database_url, name)
    url = databases.sqlalchemy_url(libpq)
    upgrade_to_head(url)
    yield libpq, url
    databases.drop_database(admin_database_url, name)


DAY_MS = 86_400_000


@pytest.fixture(scope="module")
async def guarded(
    own_database: tuple[str, str], redis_url: str, service_logs: list[str]
) -> AsyncIterator[PaymentApplication]:
    prefix = f"payments-guard-{uuid.uuid4().hex[:10]}:"
    app = PaymentApplication(
        # Everything that writes to Redis on: the rate limiter (per caller) and a velocity
        # rule (per card), so that the scan below has the service's keys to read.
        settings_for_tests(
            redis_key_prefix=prefix,
            rate_limit_enabled=True,
            rate_limit_requests_per_second=1000,
            rate_limit_burst=1000,
            fraud_velocity_max_per_card=1000,
        ),
        own_database[1],
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
        redis_url=redis_url,
    )
    await app.start()
    yield app
    await app.stop(grace=1)
    client = make_redis(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.unlink(*keys)
    finally:
        await client.aclose()


@dataclass
class Outcomes:
    cards: CardNumbers
    # The order id of a payment that was accepted and stored (a plaintext column: the
    # free-text ones are encrypted at rest).
    control: str
    grpc: list[tuple[GrpcCase, PaymentsError | None, str]] = field(default_factory=list)
    rest: list[tuple[RestCase, httpx.Response]] = field(default_factory=list)
    webhook: httpx.Response | None = None
    request_id_echoes: list[str] = field(default_factory=list)


def _call(channel: grpc.aio.Channel, method: MethodDescriptor) -> Any:
    output = message_factory.GetMessageClass(method.output_type)
    return channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=output.FromString,
    )


def _everything_said(error: grpc.aio.AioRpcError) -> str:
    """All a caller receives with a failed call: details, status details, metadata."""
    metadata = [*(error.initial_metadata() or ()), *(error.trailing_metadata() or ())]
    said = [error.details() or "", error.debug_error_string() or ""]
    for key, value in metadata:
        said.append(f"{key}={value.decode('latin-1') if isinstance(value, bytes) else value}")
    return "\n".join(said)


@pytest.fixture(scope="module")
async def injected(guarded: PaymentApplication) -> Outcomes:
    """Sends every injection once; the tests below look at what came of them."""
    cards = CardNumbers()
    outcomes = Outcomes(cards, control=new_id())
    base = f"127.0.0.1:{guarded.rest_port}"
    async with open_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        control = create_request(order_id=outcomes.control, authorize=True)
        await _call(channel, METHODS[0])(control)  # CreatePayment: stored, found in the dump
        for case in grpc_cases(METHODS, cards):
            try:
                await _call(channel, case.method)(case.request)
            except grpc.aio.AioRpcError as error:
                decoded = PaymentsError.from_rpc_error(error)
                outcomes.grpc.append((case, decoded, _everything_said(error)))
            else:
                outcomes.grpc.append((case, None, ""))
        card = cards.next()
        call = _call(channel, METHODS[1])(  # GetPayment, with a card as its request id
            pb.GetPaymentRequest(payment_id=new_id()), metadata=(("x-request-id", card),)
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await call
        outcomes.request_id_echoes.append(dict(await call.initial_metadata())["x-request-id"])
    async with httpx.AsyncClient(base_url=f"http://{base}", headers=rest_headers()) as client:
        for rest in rest_cases(build_routes(contract_services()), cards):
            response = await client.request(
                rest.route.http_method,
                rest.url,
                params=rest.params,
                json=rest.body,
                headers=rest.headers,
            )
            outcomes.rest.append((rest, response))
        # Gateways' webhook bodies are not refused (they are signed gateway data) - this one
        # fails its signature - and are never logged raw.
        outcomes.webhook = await client.post(
            "/api/v1/webhooks/stripe",
            content=json.dumps({"id": "evt_1", "card": cards.next()}).encode(),
            headers={"content-type": "application/json", "stripe-signature": "t=1,v1=00"},
        )
        echoed = await client.get(
            f"/api/v1/payments/{new_id()}", headers={"X-Request-Id": cards.next()}
        )
        outcomes.request_id_echoes.append(echoed.headers["x-request-id"])
    return outcomes


def _rest_reason(response: httpx.Response) -> tuple[str, dict[str, str]]:
    error = response.json()["error"]
    reasons = [d["reason"] for d in error["details"] if d["@type"].endswith("ErrorInfo")]
    violations = {
        v["field"]: v["description"]
        for d in error["details"]
        if d["@type"].endswith("BadRequest")
        for v in d["field_violations"]
    }
    return (reasons[0] if reasons else ""), violations


def test_every_rpc_and_every_string_field_is_injected(injected: Outcomes) -> None:
    """The cases come from the descriptors: each RPC, each of its string fields."""
    tried = {(case.method.name, case.slot.path) for case, _, _ in injected.grpc}
    for method in METHODS:
        fields = [f.name for f in method.input_type.fields if f.type == f.TYPE_STRING]
        assert fields, method.name  # every request has text a caller could misuse
        for name in fields:
            assert (method.name, name) in tried
    assert ("CreatePayment", "metadata[note]") in tried
    assert ("CreatePayment", "metadata") in tried  # a card number as a map key
    assert len(tried) == sum(len(list(text_slots(m.input_type))) for m in METHODS)


def test_grpc_refuses_a_card_number_in_any_field(injected: Outcomes) -> None:
    failures = []
    for case, error, said in injected.grpc:
        if error is None:
            failures.append(f"{case.name}: accepted")
        elif (error.code, error.reason) != (grpc.StatusCode.INVALID_ARGUMENT, REFUSED):
            failures.append(f"{case.name}: {error.code.name} {error.reason}")
        elif case.slot.path not in error.field_violations:
            failures.append(f"{case.name}: violations name {sorted(error.field_violations)}")
        elif contains_card_number(said + repr(error)):
            failures.append(f"{case.name}: the answer repeats the card number")
    assert not failures, "\n".join(failures)


def test_rest_refuses_a_card_number_anywhere_in_a_request(injected: Outcomes) -> None:
    routes = {case.route.path for case, _ in injected.rest}
    assert routes >= {"/api/v1/payments", "/api/v1/payments/{payment_id}/refund"}
    failures = []
    for case, response in injected.rest:
        if response.status_code != 400:
            failures.append(f"{case.name}: HTTP {response.status_code}")
            continue
        reason, violations = _rest_reason(response)
        if reason != REFUSED or response.json()["error"]["status"] != "INVALID_ARGUMENT":
            failures.append(f"{case.name}: {reason}")
        elif case.field not in violations:
            failures.append(f"{case.name}: violations name {sorted(violations)}")
        elif contains_card_number(response.text + repr(response.headers.items())):
            failures.append(f"{case.name}: the answer repeats the card number")
    assert not failures, "\n".join(failures)


def test_webhook_bodies_are_not_refused_as_card_data(injected: Outcomes) -> None:
    assert injected.webhook is not None
    assert injected.webhook.status_code == 400
    reason, _ = _rest_reason(injected.webhook)
    assert reason == "WEBHOOK_SIGNATURE_INVALID"  # judged on its signature, not refused as cards
    assert not contains_card_number(injected.webhook.text)


def test_a_request_id_holding_a_card_number_is_replaced(injected: Outcomes) -> None:
    assert len(injected.request_id_echoes) == 2
    for echoed in injected.request_id_echoes:
        assert not contains_card_number(echoed)
        uuid.UUID(echoed)  # a fresh one instead


async def test_no_card_number_in_the_database(
    injected: Outcomes, guarded: PaymentApplication, own_database: tuple[str, str]
) -> None:
    dump = database_text(own_database[0])
    assert injected.control in dump  # the dump holds what the service stored
    found = [line[:200] for line in dump.splitlines() if contains_card_number(line)]
    assert not found, found
    bare = dump.replace(" ", "").replace("-", "")
    assert not [pan for pan in injected.cards.issued if pan in bare]
    refused_keys = [case.request_id for case, _, _ in injected.grpc if case.request_id]
    assert refused_keys
    assert guarded.engine is not None
    async with guarded.engine.connect() as conn:
        stored = await conn.scalar(
            select(func.count()).where(idempotency_keys.c.key.in_(refused_keys))
        )
    assert stored == 0  # refused before the idempotency layer: not even a key


async def test_no_card_number_in_redis(
    injected: Outcomes, guarded: PaymentApplication, redis_url: str
) -> None:
    client = make_redis(redis_url)
    try:
        text = await redis_text(client, guarded.settings.redis_key_prefix)
    finally:
        await client.aclose()
    assert text  # the rate limiter's and the velocity rule's keys are there
    digits = re.sub(r"\D", "", text)
    assert not [pan for pan in injected.cards.issued if pan in digits]  # exact, any layout
    # The heuristic, minus the limiter's clock readings: 13-digit millisecond timestamps of
    # this run, which pass the Luhn check one time in ten.
    now_ms = time.time() * 1000

    def unless_a_clock_reading(number: re.Match[str]) -> str:
        return "" if abs(int(number[0]) - now_ms) < DAY_MS else number[0]

    assert not contains_card_number(re.sub(r"\b\d{13}\b", unless_a_clock_reading, text))


def test_no_card_number_in_the_service_logs(injected: Outcomes, service_logs: list[str]) -> None:
    refusals = [line for line in service_logs if f"INVALID_ARGUMENT:{REFUSED}" in line]
    assert len(refusals) >= len(injected.grpc)  # the refusals were logged: capture works
    # The service's own lines: grpc's core debug lines print pointers (`id(loop)=1398…`),
    # 15-digit numbers that pass the Luhn check one time in ten. The exact check below covers
    # every line for the numbers injected.
    ours = [line for line in service_logs if json.loads(line)["logger"].startswith("payments")]
    found = [line[:300] for line in ours if contains_card_number(line)]
    assert not found, found
    everything = "\n".join(service_logs).replace(" ", "").replace("-", "")
    assert not [pan for pan in injected.cards.issued if pan in everything]


async def test_a_refused_request_leaves_its_idempotency_key_unused(
    guarded: PaymentApplication,
) -> None:
    async with open_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        create = _call(channel, METHODS[0])
        key = new_id()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await create(create_request(request_id=key, description="4242 4242 4242 4242"))
        assert PaymentsError.from_rpc_error(refused.value).reason == REFUSED
        call = create(create_request(request_id=key))  # same key, another (clean) request
        created = await call
        assert created.payment.payment_id
        assert ("idempotent-replayed", "true") not in (await call.trailing_metadata() or ())


async def test_grpc_map_keys_named_like_card_data_and_unknown_fields_are_refused(
    guarded: PaymentApplication,
) -> None:
    async with open_channel(f"127.0.0.1:{guarded.grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as named:
            await _call(channel, METHODS[0])(create_request(metadata={"cvc": "123"}))
        error = PaymentsError.from_rpc_error(named.value)
        assert (error.reason, list(error.field_violations)) == (REFUSED, ["metadata[cvc]"])
        # A field of a newer contract: its number is unknown here, its bytes are not.
        card = b"4000056655665556"
        raw = (
            pb.GetPaymentRequest(payment_id=new_id()).SerializeToString()
            + b"\x9a\x06"
            + bytes([len(card)])
            + card
        )
        get = channel.unary_unary(
            "/payments.v1.PaymentService/GetPayment",
            request_serializer=lambda data: data,
            response_deserializer=pb.GetPaymentResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await get(raw)
        error = PaymentsError.from_rpc_error(unknown.value)
        assert (error.reason, list(error.field_violations)) == (REFUSED, ["[unknown field 99]"])
