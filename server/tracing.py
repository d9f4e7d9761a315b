"""Tracing's switch and what the rest of the service needs of it with tracing on or off
(docs/tracing.md). The OpenTelemetry SDK and the instrumentations live in
server/tracing_sdk.py, imported by `start_tracing` only when tracing is on: a server without
tracing neither loads them nor pays for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import trace

from server.tracing_config import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

    from server.tracing_sdk import Tracing


def traceparent() -> str | None:
    """The W3C traceparent of the current span, None when no span is recording."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def start_tracing(
    settings: TracingSettings, processor: SpanProcessor | None = None
) -> Tracing | None:
    """The service's tracing, instrumented; None when tracing is off. `processor`: where
    spans go instead of the configured exporter (tests: an in-memory exporter's)."""
    if processor is None and not settings.tracing_enabled:
        return None
    from server.tracing_sdk import build_tracing  # noqa: PLC0415 - only when tracing is on

    return build_tracing(settings, processor)
