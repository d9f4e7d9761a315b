"""Tracing's pieces without I/O: when it is on (the OTEL_* variables and JAEGER_ENDPOINT), what
it refuses, where spans go, which spans it keeps, the Kafka trace headers, the log lines' ids
and the commit statement that is unchanged while tracing is off."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from pydantic import ValidationError

from infra.db import commit_writes
from infra.messaging.tracing import record_context, with_trace_headers
from server.logs import JsonFormatter
from server.tracing import start_tracing
from server.tracing_config import TracingSettings
from server.tracing_sdk import RequestTracesOnly, span_exporter

TRACE_ID, SPAN_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


@pytest.fixture(autouse=True)
def no_tracing_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TracingSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    settings = TracingSettings()
    assert not settings.tracing_enabled
    assert start_tracing(settings) is None  # nothing built, nothing instrumented


@pytest.mark.parametrize(
    ("variables", "enabled"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"JAEGER_ENDPOINT": "http://jaeger:4318"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_what_switches_tracing_on(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], enabled: bool
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert TracingSettings().tracing_enabled is enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("JAEGER_ENDPOINT", "udp://jaeger:6831"),
        ("OTEL_SERVICE_NAME", " "),
    ],
)
def test_wrong_settings_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        TracingSettings()


def test_the_http_exporter_appends_the_signal_path_to_a_base_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JAEGER_ENDPOINT", "http://jaeger:4318/")
    exporter = span_exporter(TracingSettings())
    assert isinstance(exporter, HttpExporter)
    assert exporter._endpoint == "http://jaeger:4318/v1/traces"
    # A traces endpoint is used as it is given (the specification's rule).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom")
    exporter = span_exporter(TracingSettings())
    assert isinstance(exporter, HttpExporter)
    assert exporter._endpoint == "http://c:4318/custom"


def test_grpc_protocol_takes_the_grpc_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    exporter = span_exporter(TracingSettings())
    assert isinstance(exporter, GrpcExporter)
    exporter.shutdown()


def _parent(sampled: bool = True) -> trace.Span:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=flags))


def test_client_spans_that_would_start_a_trace_are_dropped() -> None:
    sampler = RequestTracesOnly(ALWAYS_ON)
    in_a_call = trace.set_span_in_context(_parent())

    def decision(kind: SpanKind, context: object = None) -> Decision:
        return sampler.should_sample(context, TRACE_ID, "name", kind).decision  # type: ignore[arg-type]

    assert decision(SpanKind.CLIENT) is Decision.DROP  # a background job's poll
    assert decision(SpanKind.CLIENT, in_a_call) is Decision.RECORD_AND_SAMPLE
    assert decision(SpanKind.SERVER) is Decision.RECORD_AND_SAMPLE
    assert decision(SpanKind.PRODUCER) is Decision.RECORD_AND_SAMPLE


def test_publish_headers_carry_traceparent_and_cloudevents_extension() -> None:
    carrier = {"traceparent": TRACEPARENT}
    cloudevent = [("ce_specversion", b"1.0"), ("ce_type", b"payment.authorized")]
    stale = [("traceparent", b"00-old"), ("ce_traceparent", b"00-old")]
    headers = with_trace_headers([*cloudevent, *stale], carrier)
    assert headers == [
        *cloudevent,
        ("traceparent", TRACEPARENT.encode()),
        ("ce_traceparent", TRACEPARENT.encode()),
    ]
    # Not a CloudEvents record: no ce_ header is invented.
    assert with_trace_headers([("k", b"v")], carrier) == [
        ("k", b"v"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    assert with_trace_headers(stale, {}) == []  # no span: no stale trace either


@pytest.mark.parametrize("name", ["traceparent", "ce_traceparent"])
def test_a_record_continues_the_trace_its_headers_name(name: str) -> None:
    context = record_context([(name, TRACEPARENT.encode())])
    assert context is not None
    parent = trace.get_current_span(context).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (TRACE_ID, SPAN_ID, True)


@pytest.mark.parametrize("headers", [None, [], [("traceparent", b"\xff\xfe")], [("x", b"y")]])
def test_a_record_without_a_usable_traceparent_starts_its_own_trace(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    context = record_context(headers)
    assert context is None or not trace.get_current_span(context).get_span_context().is_valid


def _line(formatter: JsonFormatter) -> dict[str, object]:
    record = logging.LogRecord("payments.test", logging.INFO, "", 0, "hello", None, None)
    return dict(json.loads(formatter.format(record)))


def test_log_lines_name_the_span_they_were_written_in() -> None:
    tracer = TracerProvider().get_tracer("test")
    traced, untraced = JsonFormatter(trace_ids=True), JsonFormatter()
    assert "trace_id" not in _line(traced)  # no span
    with tracer.start_as_current_span("call") as span:
        context = span.get_span_context()
        line = _line(traced)
        assert line["trace_id"] == f"{context.trace_id:032x}"
        assert line["span_id"] == f"{context.span_id:016x}"
        assert "trace_id" not in _line(untraced)  # tracing off: not even looked up


def test_the_commit_statement_is_unchanged_while_tracing_is_off() -> None:
    parts = {"outbox": True, "audit": True, "answer": False, "claim": False}
    untraced = str(commit_writes._statement(None, **parts))
    assert "traceparent" not in untraced
    traced = str(commit_writes._statement(None, **parts, traced=True))
    assert "traceparent" in traced
    assert "CAST(:o_traceparent AS text)" in traced
    assert "o_traceparent" not in commit_writes.CommitWrites().params()
