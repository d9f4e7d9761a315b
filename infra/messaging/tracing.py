"""Trace context across Kafka, by hand: the relay's publish continues the trace an event was
committed in (the outbox row's traceparent), and the order events consumer continues the
trace of the record it acts on.

Why not opentelemetry-instrumentation-aiokafka: its send span takes the ambient context (the
relay's polling round, not the row's commit), it writes only the `traceparent` header (not
CloudEvents' `ce_traceparent`, the distributed tracing extension in binary mode), and it would
trace the consumer's poll, not the handling of a record. Both sides are a few lines here.

Headers (W3C Trace Context): `traceparent`, and `ce_traceparent` on CloudEvents records (those
carrying `ce_specversion`). A consumer takes `traceparent`, else `ce_traceparent`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer

TRACEPARENT = "traceparent"
CE_TRACEPARENT = "ce_traceparent"
_TRACE_HEADERS = (TRACEPARENT, CE_TRACEPARENT, "tracestate", "ce_tracestate")

KafkaHeaders = list[tuple[str, bytes]]


def _context_of(traceparent: str | None) -> Context | None:
    return None if not traceparent else propagate.extract({TRACEPARENT: traceparent})


@contextmanager
def publish_span(
    tracer: Tracer, topic: str, committed_in: str | None, headers: KafkaHeaders
) -> Iterator[KafkaHeaders]:
    """A PRODUCER span, child of the commit's trace (`committed_in`: the outbox row's
    traceparent; None: a trace of its own); yields `headers` with this span's context."""
    with tracer.start_as_current_span(
        f"{topic} publish",
        context=_context_of(committed_in),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield with_trace_headers(headers, carrier)


def with_trace_headers(
    headers: Sequence[tuple[str, bytes]], carrier: dict[str, str]
) -> KafkaHeaders:
    """`headers` without any trace header they had, plus the carrier's, and its traceparent
    as `ce_traceparent` too on a CloudEvents record."""
    kept = [(name, value) for name, value in headers if name not in _TRACE_HEADERS]
    traceparent = carrier.get(TRACEPARENT)
    if traceparent is None:
        return kept
    kept.append((TRACEPARENT, traceparent.encode()))
    if any(name == "ce_specversion" for name, _ in kept):
        kept.append((CE_TRACEPARENT, traceparent.encode()))
    return kept


def record_context(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    """The trace a consumed record was published in, None when it names none."""
    found = dict(headers or ())
    value = found.get(TRACEPARENT) or found.get(CE_TRACEPARENT)
    if value is None:
        return None
    try:
        return _context_of(value.decode("ascii"))
    except UnicodeDecodeError:
        return None  # not a traceparent: a trace of its own


@contextmanager
def process_span(
    tracer: Tracer, topic: str, headers: Sequence[tuple[str, bytes]] | None
) -> Iterator[Span]:
    """A CONSUMER span for the handling of one record, child of the trace it was published
    in; everything the handler does (database, gateway) is in it."""
    with tracer.start_as_current_span(
        f"{topic} process",
        context=record_context(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
        },
    ) as span:
        yield span
