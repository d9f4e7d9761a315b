"""The REST shim's server span (tracing on): one per HTTP call, continuing the caller's trace
(a `traceparent` header), named by its route template. The loopback channel's client
interceptor (server/tracing.py) carries it on to the gRPC server, so a REST call, the gRPC
call it becomes and everything that call does are one trace.

Hand-made rather than opentelemetry-instrumentation-asgi: the route template is known here,
and the span is all the shim needs (no per-message ASGI spans)."""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from starlette.requests import Request
from starlette.responses import Response

from server.rest.forward import Endpoint


def traced(tracer: Tracer, http_method: str, path: str, endpoint: Endpoint) -> Endpoint:
    name = f"{http_method} {path}"

    async def handle(request: Request) -> Response:
        with tracer.start_as_current_span(
            name,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            # The path, never the query string (it may carry what a caller typed).
            attributes={
                "http.request.method": request.method,
                "http.route": path,
                "url.path": request.url.path,
                "url.scheme": request.url.scheme,
            },
        ) as span:
            response = await endpoint(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    return handle
