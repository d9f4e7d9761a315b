"""The done-when of tracing: the real `payment-service serve` with OTEL_EXPORTER_OTLP_ENDPOINT
pointing at a receiver of this test (OTLP/HTTP, protobuf), one REST CreatePayment yields one
trace holding the REST, gRPC, database and gateway spans, and the server's log lines of that
call carry its trace id."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.e2e.helpers import new_id
from tests.fakes.http_server import HttpServer, Request, Response
from tests.support.channels import rest_headers
from tests.support.polling import eventually, free_port
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow
CREATE = "/payments.v1.PaymentService/CreatePayment"


@dataclass
class OtlpReceiver:
    """What an OTLP/HTTP collector would get: every span of every export, decoded."""

    spans: list[tuple[str, Span]] = field(default_factory=list)  # (service name, span)
    paths: set[str] = field(default_factory=set)

    async def handle(self, request: Request) -> Response:
        self.paths.add(request.path)
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attributes.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                self.spans += [(service, span) for span in scope_spans.spans]
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(200, answer, {"Content-Type": "application/x-protobuf"})

    def trace(self, trace_id: bytes) -> list[Span]:
        return [span for _, span in self.spans if span.trace_id == trace_id]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[OtlpReceiver, HttpServer]]:
    otlp = OtlpReceiver()
    server = HttpServer(otlp.handle)
    await server.start()
    yield otlp, server
    await server.close()


async def test_one_rest_create_payment_is_one_exported_trace_named_in_the_logs(
    database_url: str,
    redis_url: str,
    redis_key_prefix: str,
    receiver: tuple[OtlpReceiver, HttpServer],
) -> None:
    otlp, http = receiver
    rest_port = free_port()
    process = ServerProcess(
        database_url,
        REDIS_URL=redis_url,  # the session's, not an embedded one
        REDIS_KEY_PREFIX=redis_key_prefix,
        OTEL_EXPORTER_OTLP_ENDPOINT=http.url,
        OTEL_SERVICE_NAME="payments-under-test",
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within a tenth of a second, not five
        APP_PORT=str(rest_port),
        OPS_ENABLED="false",
        LOG_LEVEL="info",  # the call's own log line
    )
    try:
        await process.start()
        body = {
            "order_id": new_id(),
            "user_id": new_id(),
            "amount_minor": 1099,
            "currency": "EUR",
            "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
            "payment_method_token": "pm_card_visa",
            "authorize": True,
        }
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{rest_port}", headers=rest_headers()
        ) as client:
            response = await client.post("/api/v1/payments", json=body)
        assert response.status_code == 200, response.text

        def rest_spans() -> list[Span]:
            return [s for _, s in otlp.spans if s.name == "POST /api/v1/payments"]

        async def exported() -> bool:
            spans = rest_spans()
            return len(spans) == 1 and any(
                s.name.startswith("gateway ") for s in otlp.trace(spans[0].trace_id)
            )

        await eventually(exported, within=20)
        assert otlp.paths == {"/v1/traces"}
        assert {service for service, _ in otlp.spans} == {"payments-under-test"}
        (rest,) = rest_spans()
        in_trace = otlp.trace(rest.trace_id)
        kinds = {(s.name, s.kind) for s in in_trace}
        assert (CREATE, Span.SPAN_KIND_CLIENT) in kinds  # the shim's loopback
        assert (CREATE, Span.SPAN_KIND_SERVER) in kinds
        database = [
            s
            for s in in_trace
            if any(
                a.key in ("db.system", "db.system.name") and a.value.string_value == "postgresql"
                for a in s.attributes
            )
        ]
        assert database, sorted(kinds)
        assert any(s.name == "gateway SIMULATOR authorize" for s in in_trace), sorted(kinds)
        redis = [
            s
            for s in in_trace
            if any(a.key == "db.system" and a.value.string_value == "redis" for a in s.attributes)
        ]
        assert redis, sorted(kinds)  # the idempotency answer cache
        assert rest.parent_span_id == b""  # the trace starts at the REST call

        trace_id = rest.trace_id.hex()

        async def logged() -> bool:
            return CREATE in process.output()

        await eventually(logged, within=10)
        lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
        calls = [line for line in lines if line.get("rpc") == CREATE]
        assert [line["trace_id"] for line in calls] == [trace_id]
        span_ids = {s.span_id.hex() for s in in_trace}
        assert calls[0]["span_id"] in span_ids
    finally:
        print(process.output()[-6000:])  # shown when the test failed
        process.close()
