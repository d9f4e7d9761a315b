"""Prometheus metrics of one PaymentApplication (its own registry, so several apps in one
process do not clash), and the gRPC interceptor that counts and times every call.

With several worker processes (server/supervisor.py) prometheus_client runs in multiprocess
mode: the supervisor sets PROMETHEUS_MULTIPROC_DIR before any worker starts, each worker
writes its values there, and whichever worker answers /metrics reports all of them: counters
and histograms summed over the workers (dead ones included, so totals never go back), gauges
read from the database as most recently refreshed, per-worker gauges labelled with the pid."""

from __future__ import annotations

import os
import time
from typing import Any

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from infra.db.analytics_fold import BucketDeltas
from server.dispute_metrics import DisputeMetrics
from server.errors import status_code
from server.interceptors import Behavior, UnaryInterceptor
from server.oncall_metrics import OnCallMetrics

# Request and gateway latency: fine below a second (the SLO lives there), then up to 30 s,
# the longest a gateway call may take (GATEWAY_TIMEOUT_SECONDS' default): a call that hangs
# until its timeout lands in a bucket of its own instead of in +Inf with everything slow.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, float("inf"),
)  # fmt: skip


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.rest_requests = Counter(
            "payments_rest_requests", "REST requests", ["method", "route", "status"], registry=r
        )
        self.rest_latency = Histogram(
            "payments_rest_request_duration_seconds",
            "REST request latency",
            ["method", "route"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.grpc_requests = Counter(
            "payments_grpc_requests", "gRPC calls", ["method", "code"], registry=r
        )
        self.grpc_latency = Histogram(
            "payments_grpc_request_duration_seconds",
            "gRPC call latency",
            ["method"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.payments = Gauge(
            "payments_by_status",
            "Payments per status (from the database)",
            ["status"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        # Business counters, counted by the analytics projector as it projects each event
        # (once per event, in the process holding the background lease).
        self.payment_outcomes = Counter(
            "payments_outcomes",
            "Payment outcomes (authorized, captured, failed) projected from the events",
            ["gateway", "payment_method_type", "currency", "outcome"],
            registry=r,
        )
        self.captured_minor = Counter(
            "payments_captured_amount_minor",
            "Captured amounts, in minor units of the currency",
            ["currency"],
            registry=r,
        )
        self.refunded_minor = Counter(
            "payments_refunded_amount_minor",
            "Refunded amounts, in minor units of the currency",
            ["currency"],
            registry=r,
        )
        self.gateway_latency = Histogram(
            "payments_gateway_call_duration_seconds",
            "Gateway call latency",
            ["gateway", "operation", "outcome"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )

        self.outbox_backlog = Gauge(
            "payments_outbox_backlog",
            "Events in the outbox not yet published to Kafka (from the database)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.outbox_lag = Gauge(
            "payments_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when none)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.analytics_backlog = Gauge(
            "payments_analytics_backlog",
            "Outbox events the analytics projector has not counted yet (from the database)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.analytics_lag = Gauge(
            "payments_analytics_lag_seconds",
            "Age of the oldest event the analytics projector has not counted (0 when none)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.outbox_published = Counter(
            "payments_outbox_published", "Outbox events published by this process", registry=r
        )
        # Per worker process (label pid with several workers; dead workers drop out).
        self.background_leader = Gauge(
            "payments_background_leader",
            "1 in the process holding the background lease (singleton jobs), else 0",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.worker_calls = Gauge(
            "payments_worker_grpc_calls",
            "gRPC calls this worker process has served: how evenly the shared port spreads them",
            registry=r,
            multiprocess_mode="liveall",
        )
        self.audit_backlog = Gauge(
            "payments_audit_chain_backlog",
            "Audit entries committed or being written, not chained yet (from the database)",
            registry=r,
        )
        self.audit_lag = Gauge(
            "payments_audit_chain_lag_seconds",
            "Age of the oldest audit entry not chained yet (0 when none)",
            registry=r,
        )
        self.audit_linked = Counter(
            "payments_audit_linked", "Audit entries chained by this process's linker", registry=r
        )
        self.audit_linker_holder = Gauge(
            "payments_audit_linker_holder",
            "1 while this process's linker holds the audit chain's lease",
            registry=r,
        )
        self.disputes = DisputeMetrics(r)
        # What an on-call engineer looks at first (server/oncall_metrics.py).
        self.oncall = OnCallMetrics(r)
        # process_* (CPU, memory, open files, start time) of this process.
        ProcessCollector(registry=r)

    def count_projected(self, deltas: BucketDeltas) -> None:
        """The analytics projector's batch, once it committed."""
        outcomes = self.payment_outcomes
        for (_hour, gateway, method, currency, _country, _code), sums in deltas.payments.items():
            for outcome in ("authorized", "captured", "failed"):
                if sums[outcome]:
                    outcomes.labels(
                        gateway=gateway,
                        payment_method_type=method,
                        currency=currency,
                        outcome=outcome,
                    ).inc(sums[outcome])
        for (_hour, basis, currency), sums in deltas.revenue.items():
            if basis != "payment":
                continue
            if sums["captured_minor"]:
                self.captured_minor.labels(currency=currency).inc(sums["captured_minor"])
            if sums["refunded_minor"]:
                self.refunded_minor.labels(currency=currency).inc(sums["refunded_minor"])

    def render(self) -> bytes:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=directory)  # type: ignore[no-untyped-call]
        # Process metrics cannot be summed over processes: those of the worker answering.
        ProcessCollector(registry=every_worker)
        return generate_latest(every_worker)


def _code_of(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return str(status_code(int(code)).name)


class MetricsInterceptor(UnaryInterceptor):
    """Outermost: counts each unary call by method and final status code, and times it."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        metrics = self._metrics
        # The method's children, looked up once (a labels() lookup costs more than the count).
        latency = metrics.grpc_latency.labels(method=method)
        counters: dict[str, Any] = {}

        def counter(code: str) -> Any:
            child = counters.get(code)
            if child is None:
                child = counters[code] = metrics.grpc_requests.labels(method=method, code=code)
            return child

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = "INTERNAL"
            try:
                response = await behavior(request, context)
                code = _code_of(context)
                return response
            except grpc.aio.AbortError:
                code = _code_of(context)
                raise
            finally:
                counter(code).inc()
                metrics.worker_calls.inc()
                latency.observe(time.perf_counter() - started)

        return wrapped
