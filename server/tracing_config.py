"""Settings of tracing (docs/tracing.md): the standard OTEL_* variables this service reads
itself, and JAEGER_ENDPOINT. `Settings` (server/config.py) inherits them; server/tracing.py
builds the tracer provider from them. The OTLP exporters and the SDK read the rest of the
OTEL_* variables (headers, timeouts, sampler, batch sizes, resource attributes) themselves.

Tracing is off unless an exporter is named: OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, JAEGER_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp|console.
Off means no interceptor, no instrumentation and no per-line work in the logs: a payment
costs exactly what it cost before tracing existed."""

from __future__ import annotations

from urllib.parse import urlparse

from server.settings_part import SettingsPart

# OTEL_TRACES_EXPORTER values this service knows (the SDK's names).
EXPORTERS = ("otlp", "console", "none")
# OTEL_EXPORTER_OTLP_PROTOCOL values (the specification's names; "http/json" has no Python
# exporter).
PROTOCOLS = ("http/protobuf", "grpc")


class TracingSettings(SettingsPart):
    otel_sdk_disabled: bool = False
    # Comma-separated per the specification; this service exports traces only, so one.
    otel_traces_exporter: str | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    # The specification's default is http/protobuf (4318); grpc for a collector on 4317.
    otel_exporter_otlp_protocol: str | None = None
    otel_exporter_otlp_traces_protocol: str | None = None
    otel_service_name: str = "payment-service"
    # Jaeger (1.35+) takes OTLP itself: its collector's OTLP endpoint, e.g.
    # http://jaeger:4318 (OTLP/HTTP) or http://jaeger:4317 with OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
    # Used when no OTEL_EXPORTER_OTLP_*ENDPOINT is set.
    jaeger_endpoint: str | None = None

    @property
    def traces_exporter(self) -> str:
        """otlp, console or none: what OTEL_TRACES_EXPORTER says, else otlp when an endpoint
        is given, else none."""
        named = (self.otel_traces_exporter or "").strip().lower()
        if named:
            return named
        return "otlp" if self.otlp_traces_endpoint() is not None else "none"

    @property
    def tracing_enabled(self) -> bool:
        return not self.otel_sdk_disabled and self.traces_exporter != "none"

    def otlp_protocol(self) -> str:
        given = self.otel_exporter_otlp_traces_protocol or self.otel_exporter_otlp_protocol
        return (given or "http/protobuf").strip().lower()

    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go: the traces endpoint as given (used as is, per the specification),
        else the base endpoint (the HTTP exporter adds /v1/traces), else JAEGER_ENDPOINT
        (treated as a base endpoint). None: the exporter's default (localhost)."""
        for value in (
            self.otel_exporter_otlp_traces_endpoint,
            self.otel_exporter_otlp_endpoint,
            self.jaeger_endpoint,
        ):
            if value and value.strip():
                return value.strip()
        return None

    def problems(self) -> list[str]:
        """What is wrong with the tracing settings, each naming its variable; [] when fine."""
        problems = []
        exporters = [part.strip() for part in (self.otel_traces_exporter or "").lower().split(",")]
        unknown = [name for name in exporters if name and name not in EXPORTERS]
        if unknown:
            problems.append(f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)}")
        elif len([name for name in exporters if name]) > 1:
            problems.append("OTEL_TRACES_EXPORTER: name one exporter")
        if self.otlp_protocol() not in PROTOCOLS:
            problems.append(f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
        for name, value in (
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", self.otel_exporter_otlp_traces_endpoint),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.otel_exporter_otlp_endpoint),
            ("JAEGER_ENDPOINT", self.jaeger_endpoint),
        ):
            if value and value.strip() and not _http_url(value.strip()):
                problems.append(f"{name} must be an http:// or https:// URL")
        if not self.otel_service_name.strip():
            problems.append("OTEL_SERVICE_NAME must not be empty")
        return problems


def _http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)
