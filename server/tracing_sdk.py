"""Tracing's SDK side, imported only when tracing is on (server/tracing.py): the tracer
provider and its exporter, the instrumentation of the libraries the service talks through,
and what the composition root hands out - the gRPC server and loopback client interceptors
and the tracer of the hand-made spans (REST shim, outbox relay, order events consumer).

Off, this module is not even imported (the SDK, the exporters and the instrumentations are
some 11 MiB of a worker's memory): `start_tracing` returns None and the composition root
installs no interceptor and instruments nothing, so the payment path is the one it was.

The instrumentations patch library classes (asyncpg, httpx, redis-py): they are process-wide.
One Tracing at a time per process; `shutdown` takes the patches off again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.instrumentation.grpc.filters import health_check, negate
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from server.tracing_config import TracingSettings

log = logging.getLogger("payments.tracing")

# The instrumentation scope of the service's own spans.
TRACER_NAME = "payment-service"


class Tracing:
    """A running tracer provider and the instrumentation it feeds."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self._instrumentors: list[Any] = []

    def instrument(self) -> None:
        """PostgreSQL (asyncpg: every statement, the ones SQLAlchemy prepares and the hot
        ones infra/db/driver.py runs itself), httpx (Stripe, PayPal, the fraud scorer, JWKS),
        Redis. Statement parameters are not captured; Redis arguments are masked."""
        instrumentors = (AsyncPGInstrumentor(), HTTPXClientInstrumentor(), RedisInstrumentor())  # type: ignore[no-untyped-call]
        for instrumentor in instrumentors:
            if instrumentor.is_instrumented_by_opentelemetry:
                log.warning("%s already instrumented in this process", type(instrumentor).__name__)
                continue
            instrumentor.instrument(tracer_provider=self.provider)
            self._instrumentors.append(instrumentor)

    def server_interceptor(self) -> grpc.aio.ServerInterceptor:
        """A server span per call, continuing the caller's trace (traceparent metadata).
        Health checks are not traced: probes would bury the calls."""
        interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=self.provider, filter_=negate(health_check())
        )
        return interceptor

    def client_interceptors(self) -> Sequence[grpc.aio.ClientInterceptor]:
        """For the REST shim's loopback channel: a client span per call and its traceparent
        in the metadata, so REST call, gRPC call and what they do are one trace."""
        interceptors: Sequence[grpc.aio.ClientInterceptor] = aio_client_interceptors(  # type: ignore[no-untyped-call]
            tracer_provider=self.provider, filter_=negate(health_check())
        )
        return interceptors

    def shutdown(self) -> None:
        """Takes the patches off and exports what is still buffered."""
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
        self._instrumentors.clear()
        self.provider.shutdown()


def env_sampler() -> sampling.Sampler:
    """OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, as the SDK reads them (default:
    parentbased_always_on)."""
    return sampling._get_from_env_or_default()


class RequestTracesOnly(sampling.Sampler):
    """Drops the client spans that start a trace: the background jobs' polling (the relay's,
    the audit linker's, the retry worker's statements, the health checks, the leader lease)
    would otherwise be a trace of one database span, several times a second per process.
    Calls, consumed records and publishes start traces; what they do is in them."""

    def __init__(self, delegate: sampling.Sampler) -> None:
        self._delegate = delegate

    def should_sample(  # noqa: PLR0917 - the SDK's signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return sampling.SamplingResult(sampling.Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RequestTracesOnly{{{self._delegate.get_description()}}}"


def span_exporter(settings: TracingSettings) -> SpanExporter:
    """The exporter the settings name. OTLP's other variables (headers, timeout, compression,
    certificates) are read by the exporter itself."""
    if settings.traces_exporter == "console":
        return ConsoleSpanExporter()
    endpoint = settings.otlp_traces_endpoint()
    given_as_is = bool(settings.otel_exporter_otlp_traces_endpoint)
    if settings.otlp_protocol() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter as HttpExporter,
    )

    if endpoint is not None and not given_as_is:
        # A base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, JAEGER_ENDPOINT): the specification
        # appends the signal's path.
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return HttpExporter(endpoint=endpoint)


def build_tracing(settings: TracingSettings, processor: SpanProcessor | None) -> Tracing:
    """The service's tracing, instrumented. `processor`: where spans go instead of the
    configured exporter (tests: an in-memory exporter's)."""
    if processor is None:
        # Batched: spans leave on the processor's thread, never on a call's path.
        processor = BatchSpanProcessor(span_exporter(settings))
    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES.
    resource = Resource.create({SERVICE_NAME: settings.otel_service_name})
    provider = TracerProvider(resource=resource, sampler=RequestTracesOnly(env_sampler()))
    provider.add_span_processor(processor)
    tracing = Tracing(provider)
    tracing.instrument()
    return tracing
