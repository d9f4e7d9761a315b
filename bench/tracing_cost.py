"""CPU per span of the service's tracing, in this process: the SDK's span, the batch
processor and the OTLP/HTTP exporter's encoding and sending (to `python -m bench.otlp_sink`),
all counted (time.process_time covers the processor's thread). Multiply by the spans of a
lifecycle (the sink's count over `make bench`'s lifecycles) for the cost of tracing a payment;
docs/tracing.md "Cost" has the figures.

    python -m bench.otlp_sink 4318 &
    python -m bench.tracing_cost http://127.0.0.1:4318 [spans]
"""

from __future__ import annotations

import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

# What a database span of the service carries (asyncpg's attributes, give or take).
ATTRIBUTES: dict[str, str | int] = {
    "db.system": "postgresql",
    "db.name": "payment_service",
    "db.user": "payment_service",
    "net.peer.name": "127.0.0.1",
    "net.peer.port": 5432,
    "db.statement": "SELECT payments.id, payments.version FROM payments WHERE payments.id = $1",
}


def cpu_per_span(endpoint: str, spans: int) -> float:
    provider = TracerProvider()
    # A queue holding them all: none dropped, every one encoded and sent.
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), max_queue_size=spans + 16)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    started = time.process_time()
    with tracer.start_as_current_span("call", kind=SpanKind.SERVER):
        for _ in range(spans):
            with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as span:
                span.set_attributes(ATTRIBUTES)
    provider.force_flush()
    used = time.process_time() - started
    provider.shutdown()
    return used / (spans + 1)


def main() -> None:
    endpoint = sys.argv[1].rstrip("/") + "/v1/traces"
    spans = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    cpu_per_span(endpoint, 1000)  # warm-up
    runs = sorted(cpu_per_span(endpoint, spans) for _ in range(5))
    print(f"CPU per span, median of 5 runs of {spans}: {runs[2] * 1e6:.1f} us")
    print("runs (us): " + " ".join(f"{r * 1e6:.1f}" for r in runs))


if __name__ == "__main__":
    main()
