"""Prometheus metrics of one PaymentApplication (its own registry, so several apps in one
process do not clash), and the gRPC interceptor that counts and times every call.

With several worker processes (server/supervisor.py) prometheus_client runs in multiprocess
mode: the supervisor sets PROMETHEUS_MULTIPROC_DIR before any worker starts, each worker
writes its values there, and whichever worker answers /metrics reports all of them: counters
and histograms summed over the workers (dead ones included, so totals never go back), gauges
read from the database as most recently refreshed, per-worker gauges labelled with the pid."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import PaymentStatus
from infra.db.analytics_fold import BucketDeltas
from infra.db.tables import STATUS_COUNT_COLUMNS
from server.dispute_metrics import DisputeMetrics
from server.errors import status_code
from server.interceptors import Behavior, UnaryInterceptor

log = logging.getLogger("payments.metrics")


# Payments by status: the sums of the counts a trigger keeps per connection shard, a column
# per status (migration 0023), exact across replicas and restarts, without reading payments.
_PAYMENTS_BY_STATUS = text(
    "SELECT "  # noqa: S608 - the column names of the table, no input
    + ", ".join(f"sum({c})::bigint AS {c}" for c in STATUS_COUNT_COLUMNS)
    + " FROM payment_status_counts"
)
# The outbox backlog (served by the partial index on unpublished rows).
_OUTBOX_BACKLOG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE published_at IS NULL"
)
# The analytics projector's backlog (served by the partial index on unprojected rows).
_ANALYTICS_BACKLOG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
    "FROM outbox WHERE projected_at IS NULL"
)
# The audit chain's lag: entries written and not chained yet (a small table, drained every
# AUDIT_LINK_INTERVAL_SECONDS).
_AUDIT_CHAIN_LAG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(inserted_at)), 0) FROM audit_pending"
)


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
        )
        self.grpc_requests = Counter(
            "payments_grpc_requests", "gRPC calls", ["method", "code"], registry=r
        )
        self.grpc_latency = Histogram(
            "payments_grpc_request_duration_seconds", "gRPC call latency", ["method"], registry=r
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

    async def refresh(self, engine: AsyncEngine | None) -> None:
        payments_by_status = await self.refresh_payments(engine)
        await self.disputes.refresh(engine, payments_by_status)
        await self.refresh_outbox(engine)
        await self.refresh_audit_chain(engine)

    async def refresh_audit_chain(self, engine: AsyncEngine | None) -> None:
        """Best effort, like refresh_payments."""
        if engine is None:
            return
        try:
            async with asyncio.timeout(5), engine.connect() as conn:
                count, age = (await conn.execute(_AUDIT_CHAIN_LAG)).one()
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("audit chain lag not refreshed: %s", type(exc).__name__)
            return
        self.audit_backlog.set(count)
        self.audit_lag.set(max(float(age), 0.0))

    async def refresh_outbox(self, engine: AsyncEngine | None) -> None:
        """Best effort, like refresh_payments."""
        if engine is None:
            return
        try:
            async with asyncio.timeout(5), engine.connect() as conn:
                count, age = (await conn.execute(_OUTBOX_BACKLOG)).one()
                projecting, projecting_age = (await conn.execute(_ANALYTICS_BACKLOG)).one()
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("outbox backlog not refreshed: %s", type(exc).__name__)
            return
        self.outbox_backlog.set(count)
        self.outbox_lag.set(max(float(age), 0.0))
        self.analytics_backlog.set(projecting)
        self.analytics_lag.set(max(float(projecting_age), 0.0))

    async def refresh_payments(self, engine: AsyncEngine | None) -> dict[str, int] | None:
        """Best effort: with the database unreachable the last counts stay (and None is
        returned). The counts by status otherwise."""
        if engine is None:
            return None
        try:
            async with asyncio.timeout(5), engine.connect() as conn:
                sums = (await conn.execute(_PAYMENTS_BY_STATUS)).one()._mapping
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("payments by status not refreshed: %s", type(exc).__name__)
            return None
        # Every status, zero included: with several workers the most recent value of each
        # label is reported, and a status that emptied must not keep an older worker's count.
        counts = {str(column).upper(): int(count or 0) for column, count in sums.items()}
        found = dict(counts)
        for status in PaymentStatus:
            self.payments.labels(status=status.value).set(counts.pop(status.value, 0))
        for unknown, count in counts.items():  # a status this build does not know
            self.payments.labels(status=unknown).set(count)
        return found

    def render(self) -> bytes:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=directory)  # type: ignore[no-untyped-call]
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
