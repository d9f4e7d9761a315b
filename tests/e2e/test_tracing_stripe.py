"""With tracing on, a Stripe authorization's HTTP requests (httpx, to localstripe) are spans
inside the gateway's span, in the trace of the gRPC call - and no span shows the API key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from payments.v1 import payment_pb2
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from server.tracing import start_tracing
from tests.e2e.helpers import create_request
from tests.e2e.test_stripe_payments import ROUTES
from tests.support.channels import open_channel
from tests.support.localstripe import API_KEY, create_card_payment_method
from tests.support.servers import settings_for_tests

pytestmark = pytest.mark.slow
CREATE = "/payments.v1.PaymentService/CreatePayment"


@pytest.fixture
async def traced_stripe(
    database_url: str, localstripe_url: str
) -> AsyncIterator[tuple[PaymentApplication, InMemorySpanExporter]]:
    settings = settings_for_tests(
        stripe_api_key=API_KEY,
        stripe_api_base=localstripe_url,
        gateway_routes=json.dumps(ROUTES),
    )
    exporter = InMemorySpanExporter()
    tracing = start_tracing(settings, SimpleSpanProcessor(exporter))
    assert tracing is not None
    app = PaymentApplication(settings, database_url, tracing=tracing)
    try:
        await app.start()
        yield app, exporter
    finally:
        await app.stop(grace=1)
        tracing.shutdown()


def ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    by_id = {s.context.span_id: s for s in spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_stripe_http_calls_are_spans_of_the_gateway_call(
    traced_stripe: tuple[PaymentApplication, InMemorySpanExporter], localstripe_url: str
) -> None:
    app, exporter = traced_stripe
    token = await create_card_payment_method(localstripe_url, "4242424242424242")
    async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        created = await PaymentServiceStub(channel).CreatePayment(
            create_request(payment_method_token=token, authorize=True)
        )
    assert created.payment.gateway == payment_pb2.GATEWAY_STRIPE

    finished = list(exporter.get_finished_spans())
    (server,) = [s for s in finished if s.name == CREATE and s.kind is SpanKind.SERVER]
    in_trace = [s for s in finished if s.context.trace_id == server.context.trace_id]
    http = [
        s
        for s in in_trace
        if s.kind is SpanKind.CLIENT and "/v1/payment_intents" in str(s.attributes)
    ]
    assert http, sorted(s.name for s in in_trace)
    assert all(
        ancestors(s, in_trace)[:1] == ["gateway STRIPE authorize"]
        and ancestors(s, in_trace)[-1] == CREATE
        for s in http
    ), [ancestors(s, in_trace) for s in http]
    assert all(API_KEY not in str(s.attributes) for s in finished)
