"""The service's object graph, built from the settings without I/O: no connection opened,
no port bound, no task started. server/app.py then starts what needs starting, inside an
AsyncExitStack where each resource registers its own cleanup.

Built here: the database engines and Redis client (both connect lazily), the gateways, the
circuit breaker, the risk engine, the ports a use case runs with, the webhook verifiers, the
background jobs and the readiness checks. Left to the start: what binds a port or touches
the filesystem (the gRPC server, the REST shim, the ops port, the development signing key)."""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import httpx
from grpc_health.v1.health import aio as health_aio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor
from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from domain.idempotency import KeyedRequest
from domain.ownership import OwnerScopedUnitOfWork
from domain.ports import CircuitBreaker
from domain.retry import RetryPolicy
from domain.risk_engine import RiskEngine
from domain.usecases.deps import Deps
from infra.cache import make_redis
from infra.cache.circuit import LocalCircuitBreaker, RedisCircuitBreaker
from infra.cache.velocity import RedisVelocityCounter
from infra.currency import iso4217_catalog
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.request_claim import RequestClaim
from infra.db.uow import SqlUnitOfWork
from infra.fraud.scorer import HttpRiskScorer
from infra.gateways.directory import RoutedGatewayDirectory
from infra.system import SystemClock, UuidGenerator
from server.audit_linking import audit_link_job
from server.background import Background, JobWiring, leader_lease
from server.config import Settings
from server.encryption import build_sealer
from server.gateway_timing import timed
from server.gateways import build_gateways
from server.messaging import event_renderer
from server.metrics import ServiceMetrics
from server.metrics_scrape import ScrapeRefresh
from server.tracing import traceparent
from server.transport import database_ssl, redis_ssl_ca_file
from server.webhooks import WebhookComponents

if TYPE_CHECKING:  # only with tracing on (server/tracing.py)
    from server.tracing_sdk import Tracing

log = logging.getLogger("payments.app")


class DepsFactory(Protocol):
    """The ports a use case runs with, for one actor (and one keyed call, if any)."""

    def __call__(self, actor: Actor, request: KeyedRequest | None = None) -> Deps: ...


class ServiceGraph:
    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        gateways: Mapping[GatewayName, PaymentGateway] | None,
        redis_url: str | None,
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        # Tracing on: the gateway calls are spans, the outbox rows keep the trace they were
        # committed in, the relay's publishes and the consumer's handling are spans.
        self.tracer = tracing.tracer if tracing is not None else None
        self.database_url = database_url
        # Prometheus metrics of this application (its own registry).
        self.metrics = ServiceMetrics()
        self.metrics.disputes.alert_above(settings.dispute_ratio_alert_threshold)
        # Seals and opens the encrypted columns; raises EncryptionNotConfigured in
        # staging/production without keys, before anything starts.
        self.sealer = build_sealer(settings)
        ssl = database_ssl(settings)
        self.engine: AsyncEngine = make_engine(
            database_url, pool_size=settings.db_pool_size, ssl=ssl
        )
        # Its own connection: a pool busy with calls must not look like a dead database.
        self.health_engine: AsyncEngine = make_engine(database_url, pool_size=1, ssl=ssl)
        # The cache (None: run without it). Keys start with settings.redis_key_prefix.
        self.redis: Redis | None = (
            make_redis(redis_url, ssl_ca_file=redis_ssl_ca_file(settings))
            if redis_url is not None
            else None
        )
        # Given (tests), or built from the settings; closed at stop either way.
        self.gateways: dict[GatewayName, PaymentGateway] = (
            build_gateways(settings, self.engine) if gateways is None else dict(gateways)
        )
        self.breaker = self._circuit_breaker()
        # For the external risk scorer (FRAUD_SCORER_URL), when one is configured.
        self.scorer_http: httpx.AsyncClient | None = None
        self.deps: DepsFactory = self._deps_factory()
        self.idempotency_store = SqlIdempotencyStore(self.engine, self.sealer)
        self.webhooks = WebhookComponents(settings, self.deps)
        self.health = health_aio.HealthServicer()
        # Lets the gRPC server tell the REST shim's forwarded calls from others.
        self.rest_shim_secret = secrets.token_urlsafe(32)
        self.wiring = JobWiring(settings, self.engine, self.metrics, self.deps, self.tracer)
        self.background = self._background()
        consumer = self.wiring.order_consumer
        # What a scrape refreshes first (server/metrics_scrape.py).
        self.scrape = ScrapeRefresh(
            self.metrics,
            self.engine,
            breaker=self.breaker,
            gateways=self.gateways.keys,
            consumer_lag=consumer.lag if consumer is not None else None,
            min_interval=settings.metrics_refresh_seconds,
        )

    def _deps_factory(self) -> DepsFactory:
        s, engine, sealer = self.settings, self.engine, self.sealer
        directory = RoutedGatewayDirectory(
            timed(self.gateways, self.metrics, self.tracer), s.routing_table()
        )
        clock, ids, currencies = SystemClock(), UuidGenerator(), iso4217_catalog()
        breaker = self.breaker
        retry_policy = RetryPolicy(
            s.retry_max_attempts,
            timedelta(seconds=s.retry_base_seconds),
            timedelta(seconds=s.retry_max_delay_seconds),
        )
        risk = self._risk_engine()
        fx_policy = s.fx_policy()
        # Events are written to the outbox in their published form, rendered at commit.
        render = event_renderer(s)
        # One for the process (retry jitter): seeding one per call cost more than the call used.
        rng = random.Random()  # noqa: S311 - jitter, not a secret
        trace_of_commit = traceparent if self.tracer is not None else None

        def deps(actor: Actor, request: KeyedRequest | None = None) -> Deps:
            # A fresh unit of work per call: it holds that call's connection, acts (in the
            # access rules and the audit trail) for the call's actor, and keeps the call's
            # idempotency key in its transactions, when it has one.
            # Only the composition root builds keyed requests: they are RequestClaims.
            assert request is None or isinstance(request, RequestClaim)
            uow = SqlUnitOfWork(engine, sealer, render, actor, request, traceparent=trace_of_commit)
            return Deps(
                # Every read and write of a use case passes the per-user access rule.
                OwnerScopedUnitOfWork(uow, actor),
                directory,
                clock,
                ids if request is None else request.ids,
                currencies,
                gateway_timeout=s.gateway_timeout_seconds,
                breaker=breaker,
                retry_policy=retry_policy,
                risk=risk,
                fx=fx_policy,
                actor=actor,
                rng=rng,
            )

        return deps

    def _circuit_breaker(self) -> CircuitBreaker:
        s = self.settings
        threshold, window = s.circuit_failure_threshold, s.circuit_window_seconds
        if self.redis is None:
            return LocalCircuitBreaker(threshold, window, s.circuit_open_seconds)
        return RedisCircuitBreaker(
            self.redis,
            prefix=s.redis_key_prefix,
            threshold=threshold,
            window=window,
            open_for=s.circuit_open_seconds,
        )

    def _risk_engine(self) -> RiskEngine | None:
        s = self.settings
        if not s.fraud_checks_enabled:
            return None
        policy = s.risk_policy()
        if not policy.has_rules and not s.fraud_scorer_url:
            # Nothing could ever fire: spare every authorization the check's reads.
            log.info("fraud checks: no rule and no scorer configured, none run")
            return None
        velocity = (
            RedisVelocityCounter(self.redis, prefix=s.redis_key_prefix)
            if self.redis is not None
            else None
        )
        if velocity is None and policy.counts_velocity:
            log.warning("FRAUD_VELOCITY_* limits need Redis; none is configured")
        scorer = None
        if s.fraud_scorer_url:
            self.scorer_http = httpx.AsyncClient()
            key = s.fraud_scorer_api_key
            scorer = HttpRiskScorer(
                self.scorer_http,
                s.fraud_scorer_url,
                timeout_seconds=s.fraud_scorer_timeout_seconds,
                api_key=key.get_secret_value() if key is not None else None,
            )
        return RiskEngine(policy, velocity=velocity, scorer=scorer)

    def _background(self) -> Background:
        wiring, s = self.wiring, self.settings
        return Background(
            leader_lease(s, self.database_url),
            s.background_lease_seconds,
            # One process at a time across workers and replicas (server/background.py).
            singletons=[
                *wiring.housekeeping(self.idempotency_store),
                *wiring.outbox(),
                *wiring.fx_rates(),
                *wiring.analytics(),
            ],
            # Every worker: Kafka's consumer group shares the partitions out;
            # the audit chain's linker too: its own lease lets one link at a time.
            everywhere=[*wiring.order_events(), audit_link_job(self.engine, s, self.metrics)],
            on_leader=self.metrics.background_leader.set,
        )
