"""Tracing end to end, in process, spans taken by the SDK's in-memory exporter: one REST
CreatePayment is one trace - the shim's server span, the loopback's gRPC client span, the
gRPC server span, the database statements, the gateway call - its outbox row keeps that
trace's traceparent, the relay's publish is a span of it and the published record carries it
(`traceparent`, and `ce_traceparent` for CloudEvents); an order event's `traceparent`
header is continued by the consumer's handling. Log lines written in a span name it.

Own database (its relay must not publish other tests' rows) and own Tansu broker."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from domain.enums import GatewayName
from infra.db.engine import make_engine
from infra.db.tables import outbox
from infra.gateways.simulator import SimulatorGateway
from server.app import PaymentApplication
from server.logs import JsonFormatter
from server.tracing import start_tracing
from tests.e2e.helpers import new_id
from tests.e2e.test_order_events_consumer import order_confirmed, user_with_default_card
from tests.support import databases
from tests.support.channels import open_channel, rest_headers
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

ORDERS, DLQ, PAYMENTS = "order.events", "order.events.dlq", "payment.events"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tracing_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_tracing") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(ORDERS, DLQ, PAYMENTS))
    yield server
    server.stop()


class Traced:
    def __init__(self, app: PaymentApplication, exporter: InMemorySpanExporter) -> None:
        self.app, self.exporter = app, exporter

    def spans(self, trace_id: int | None = None) -> list[ReadableSpan]:
        found = self.exporter.get_finished_spans()
        return [s for s in found if trace_id is None or s.context.trace_id == trace_id]


@pytest.fixture
async def traced(tracing_database_url: str, broker: TansuBroker) -> AsyncIterator[Traced]:
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        kafka_group_id=f"payments-{uuid.uuid4()}",
        outbox_poll_interval_seconds=0.05,
    )
    exporter = InMemorySpanExporter()
    tracing = start_tracing(settings, SimpleSpanProcessor(exporter))
    assert tracing is not None
    app = PaymentApplication(
        settings,
        tracing_database_url,
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
        tracing=tracing,
    )
    try:
        await app.start()
        yield Traced(app, exporter)
    finally:
        await app.stop(grace=1)
        tracing.shutdown()  # the instrumentation's patches off: other tests run untraced


def is_database(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "postgresql" in (attributes.get("db.system"), attributes.get("db.system.name"))


@contextmanager
def json_log_lines() -> Iterator[io.StringIO]:
    """The service's JSON lines (with trace ids, as `serve` writes them with tracing on)."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter(trace_ids=True))
    rpc_log = logging.getLogger("payments.rpc")
    level = rpc_log.level
    rpc_log.setLevel(logging.INFO)
    rpc_log.addHandler(handler)
    try:
        yield sink
    finally:
        rpc_log.removeHandler(handler)
        rpc_log.setLevel(level)


async def create_over_rest(app: PaymentApplication, order: str) -> dict[str, Any]:
    body = {
        "order_id": order,
        "user_id": new_id(),
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
        "authorize": True,
    }
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{app.rest_port}", headers=rest_headers()
    ) as client:
        response = await client.post("/api/v1/payments", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def outbox_traceparents(database_url: str, aggregate: str) -> list[str | None]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = select(outbox.c.traceparent).where(outbox.c.aggregate_id == aggregate)
            return list((await conn.execute(query)).scalars())
    finally:
        await engine.dispose()


async def test_one_rest_create_payment_is_one_trace_through_outbox_and_kafka(
    traced: Traced, tracing_database_url: str, broker: TansuBroker
) -> None:
    order = new_id()
    assert traced.app.tracing is not None
    # The caller's trace (a checkout of its own): the REST call continues it. This test's
    # httpx client is instrumented too (the patches are process-wide): its span is the parent.
    with (
        traced.app.tracing.tracer.start_as_current_span("checkout") as checkout,
        json_log_lines() as lines,
    ):
        payment = (await create_over_rest(traced.app, order))["payment"]

    (rest,) = [s for s in traced.spans() if s.name == "POST /api/v1/payments"]
    assert rest.kind is SpanKind.SERVER
    assert rest.context.trace_id == checkout.get_span_context().trace_id
    trace_id = rest.context.trace_id
    in_trace = traced.spans(trace_id)
    method = "/payments.v1.PaymentService/CreatePayment"
    (client,) = [s for s in in_trace if s.name == method and s.kind is SpanKind.CLIENT]
    (server,) = [s for s in in_trace if s.name == method and s.kind is SpanKind.SERVER]
    assert client.parent is not None and client.parent.span_id == rest.context.span_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    statements = [s for s in in_trace if is_database(s)]
    assert statements, [s.name for s in in_trace]
    # No statement text with values: parameters are not captured.
    assert all("4242" not in str(s.attributes) for s in in_trace)
    gateway = [s for s in in_trace if s.name == "gateway SIMULATOR authorize"]
    assert len(gateway) == 1

    # The call's log line names the trace and the gRPC server span it was written in.
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    rpc_lines = [entry for entry in logged if entry.get("rpc") == method]
    assert rpc_lines, logged
    assert {entry["trace_id"] for entry in rpc_lines} == {f"{trace_id:032x}"}
    assert {entry["span_id"] for entry in rpc_lines} <= {
        f"{s.context.span_id:016x}" for s in in_trace
    }

    # The outbox rows keep the trace; the relay's publish continues it.
    stored = await outbox_traceparents(tracing_database_url, payment["payment_id"])
    assert stored, "the payment's events are in the outbox"
    assert all(tp is not None and tp.split("-")[1] == f"{trace_id:032x}" for tp in stored)

    consumer = AIOKafkaConsumer(
        PAYMENTS, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:

        async def published() -> bool:
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                records.extend(r for r in batch if r.key == order.encode())
            return len(records) >= len(stored)

        await eventually(published, within=20)
    finally:
        await consumer.stop()
    publishes = [s for s in traced.spans(trace_id) if s.name == f"{PAYMENTS} publish"]
    assert len(publishes) == len(stored)
    assert all(s.kind is SpanKind.PRODUCER for s in publishes)
    for record in records:
        headers = dict(record.headers)
        traceparent = headers["traceparent"].decode()
        assert headers["ce_traceparent"].decode() == traceparent  # CloudEvents' extension
        _, trace, span, _ = traceparent.split("-")
        assert trace == f"{trace_id:032x}"
        assert span in {f"{s.context.span_id:016x}" for s in publishes}


async def test_order_consumer_continues_the_trace_of_the_record(
    traced: Traced, broker: TansuBroker
) -> None:
    async with open_channel(f"127.0.0.1:{traced.app.grpc_port}") as channel:
        user = await user_with_default_card(channel)
    order = new_id()
    _, value = order_confirmed(user, order)
    trace_id, parent_span = uuid.uuid4().int, uuid.uuid4().int >> 64
    header = f"00-{trace_id:032x}-{parent_span:016x}-01"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            ORDERS, value, key=order.encode(), headers=[("traceparent", header.encode())]
        )
    finally:
        await producer.stop()

    def processing() -> list[ReadableSpan]:
        return [s for s in traced.spans(trace_id) if s.name == f"{ORDERS} process"]

    async def handled() -> bool:
        return bool(processing()) and any(
            s.name.startswith("gateway ") for s in traced.spans(trace_id)
        )

    await eventually(handled, within=20)
    (span,) = processing()
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None and span.parent.span_id == parent_span
    assert any(is_database(s) for s in traced.spans(trace_id))


async def test_refusals_keep_their_status_and_reason_when_traced(traced: Traced) -> None:
    """The gRPC instrumentation wraps the servicer context: the error mapping's
    abort_with_status must still reach the caller as it is (AIP-193 over REST)."""
    assert traced.app.tracing is not None
    body = {"order_id": new_id(), "user_id": new_id(), "amount_minor": 1, "currency": "EURO"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{traced.app.rest_port}", headers=rest_headers()
    ) as client:
        # In a trace of the test's own: its httpx span, alone, would not be sampled.
        with traced.app.tracing.tracer.start_as_current_span("caller"):
            response = await client.post("/api/v1/payments", json=body)
    assert response.status_code == 400, response.text
    details = response.json()["error"]["details"]
    assert [d.get("reason") for d in details if "reason" in d] == ["VALIDATION_FAILED"]
    violations = next(d["field_violations"] for d in details if "field_violations" in d)
    assert "currency" in [v["field"] for v in violations]
    method = "/payments.v1.PaymentService/CreatePayment"
    (server,) = [s for s in traced.spans() if s.name == method and s.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes.get("rpc.grpc.status_code") == 3  # INVALID_ARGUMENT
