"""Composition root: builds the engine, gateways and servicers, then the gRPC server, and
shuts them down in reverse order."""

from __future__ import annotations

import logging
import random
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor
from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from domain.idempotency import AnswerCache, IdempotencyKey, KeyedRequest
from domain.ownership import OwnerScopedUnitOfWork
from domain.ports import CircuitBreaker
from domain.retry import RetryPolicy
from domain.risk_engine import RiskEngine
from domain.usecases.deps import Deps
from domain.usecases.idempotent import Idempotency
from infra.cache import RedisHealth, make_redis
from infra.cache.circuit import LocalCircuitBreaker, RedisCircuitBreaker
from infra.cache.idempotency import NoAnswerCache, RedisAnswerCache
from infra.cache.rate_limit import RedisTokenBucket
from infra.cache.velocity import RedisVelocityCounter
from infra.currency import iso4217_catalog
from infra.db.analytics_reader import SqlAnalyticsReader
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.request_claim import RequestClaim
from infra.db.sealing import Sealer
from infra.db.uow import SqlUnitOfWork
from infra.fraud.scorer import HttpRiskScorer
from infra.gateways.directory import RoutedGatewayDirectory
from infra.system import SystemClock, UuidGenerator
from payments.v1 import (
    analytics_service_pb2,
    analytics_service_pb2_grpc,
    dispute_service_pb2,
    dispute_service_pb2_grpc,
    fx_service_pb2,
    fx_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
    payment_service_pb2,
    payment_service_pb2_grpc,
    webhook_service_pb2,
    webhook_service_pb2_grpc,
)
from server.audit_linking import audit_link_job
from server.auth import Authenticator, AuthInterceptor
from server.auth_config import AuthComponents
from server.background import Background, JobWiring, leader_lease
from server.card_guard import CardDataGuard
from server.config import Settings
from server.context import actor_var, request_claim_var
from server.encryption import build_sealer
from server.gateway_timing import timed
from server.gateways import build_gateways, close_gateways
from server.health import ComponentHealthWatcher, DatabaseHealthWatcher
from server.idempotency import IdempotencyInterceptor, Render
from server.interceptors import ComposedInterceptor, RequestInterceptor
from server.messaging import event_renderer
from server.metrics import MetricsInterceptor, ServiceMetrics
from server.migrate import head_revisions
from server.ops_port import OpsServer, build_ops_app
from server.pci import require_pci_compliance
from server.rate_limit import RateLimitInterceptor
from server.readiness import Check, DatabaseReadiness, KafkaReadiness, Readiness
from server.rest.app import RestShim
from server.rest.routes import build_routes, contract_services
from server.servicers.analytics import AnalyticsServicer
from server.servicers.disputes import DisputeServicer
from server.servicers.fx import FxServicer
from server.servicers.payment_methods import PaymentMethodServicer
from server.servicers.payments import PaymentServicer
from server.tls import grpc_server_credentials, rest_ssl_context
from server.transport import database_ssl, kafka_security, redis_ssl_ca_file
from server.webhooks import WebhookComponents


class DepsFactory(Protocol):
    """The ports a use case runs with, for one actor (and one keyed call, if any)."""

    def __call__(self, actor: Actor, request: KeyedRequest | None = None) -> Deps: ...


log = logging.getLogger("payments.app")

# grpc.health.v1 service name under which Redis is reported (absent when Redis is disabled).
REDIS_HEALTH_SERVICE = "redis"

SERVICE_NAMES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"].full_name,
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
    fx_service_pb2.DESCRIPTOR.services_by_name["FxService"].full_name,
    analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
    dispute_service_pb2.DESCRIPTOR.services_by_name["DisputeService"].full_name,
)

# Requests that are gateways' signed data, not callers' input: not refused by the card guard.
GATEWAY_SIGNED_SERVICES = (
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
)


class PaymentApplication:
    """The running service. `start()` binds and serves; `stop()` drains and releases."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        gateways: Mapping[GatewayName, PaymentGateway] | None = None,
        redis_url: str | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.settings = settings
        # One of several worker processes sharing the ports (SO_REUSEPORT, server/worker.py).
        self._reuse_port = reuse_port
        self._database_url = database_url
        # Seals and opens the encrypted columns; raises EncryptionNotConfigured in
        # staging/production without keys, before anything starts.
        self.sealer: Sealer = build_sealer(settings)
        # Given (tests), or built from the settings at start.
        self.gateways: dict[GatewayName, PaymentGateway] = dict(gateways or {})
        self._own_gateways = gateways is None
        # The relay, the order events consumer and the housekeeping jobs (_start_jobs).
        self.background: Background | None = None
        self.engine: AsyncEngine | None = None
        self._health_engine: AsyncEngine | None = None
        self.deps: Callable[[Actor], Deps] | None = None
        # The cache (None: run without it). Keys start with settings.redis_key_prefix.
        self._redis_url = redis_url
        self.redis: Redis | None = None
        self._redis_watcher: ComponentHealthWatcher | None = None
        self.server: grpc.aio.Server | None = None
        self.health = health_aio.HealthServicer()
        self._watcher: DatabaseHealthWatcher | None = None
        self.grpc_port: int = 0
        # Where the REST shim reaches the gRPC server: 127.0.0.1:port or unix:path (_bind_grpc).
        self.loopback_target = ""
        self._loopback_dir: str | None = None
        self._webhooks: WebhookComponents | None = None
        # Prometheus metrics of this application (its own registry), served by the REST shim.
        self.metrics = ServiceMetrics()
        self.metrics.disputes.alert_above(settings.dispute_ratio_alert_threshold)
        self.rest: RestShim | None = None
        self.rest_port: int = 0
        # The ops port (server/ops_port.py): probes and metrics without a token; 0 when off.
        self.ops: OpsServer | None = None
        self.ops_port: int = 0
        self.readiness: Readiness | None = None
        self._kafka_readiness: KafkaReadiness | None = None
        # For the external risk scorer (FRAUD_SCORER_URL), when one is configured.
        self._http: httpx.AsyncClient | None = None
        self.auth: AuthComponents | None = None
        # Lets the gRPC server tell the REST shim's forwarded calls from others.
        self._rest_shim_secret = secrets.token_urlsafe(32)

    def _deps_factory(self, engine: AsyncEngine) -> DepsFactory:
        directory = RoutedGatewayDirectory(
            timed(self.gateways, self.metrics), self.settings.routing_table()
        )
        clock, ids, currencies = SystemClock(), UuidGenerator(), iso4217_catalog()
        breaker = self._circuit_breaker()
        s = self.settings
        retry_policy = RetryPolicy(
            s.retry_max_attempts,
            timedelta(seconds=s.retry_base_seconds),
            timedelta(seconds=s.retry_max_delay_seconds),
        )
        risk = self._risk_engine()
        fx_policy = self.settings.fx_policy()
        # Events are written to the outbox in their published form, rendered at commit.
        render = event_renderer(self.settings)
        # One for the process (retry jitter): seeding one per call cost more than the call used.
        rng = random.Random()  # noqa: S311 - jitter, not a secret

        def deps(actor: Actor, request: KeyedRequest | None = None) -> Deps:
            # A fresh unit of work per call: it holds that call's connection, acts (in the
            # access rules and the audit trail) for the call's actor, and keeps the call's
            # idempotency key in its transactions, when it has one.
            # Only the composition root builds keyed requests: they are RequestClaims.
            assert request is None or isinstance(request, RequestClaim)
            uow = SqlUnitOfWork(engine, self.sealer, render, actor, request)
            return Deps(
                # Every read and write of a use case passes the per-user access rule.
                OwnerScopedUnitOfWork(uow, actor),
                directory,
                clock,
                ids if request is None else request.ids,
                currencies,
                gateway_timeout=self.settings.gateway_timeout_seconds,
                breaker=breaker,
                retry_policy=retry_policy,
                risk=risk,
                fx=fx_policy,
                actor=actor,
                rng=rng,
            )

        return deps

    async def start(self) -> None:
        require_pci_compliance(self.settings)  # before anything listens or connects
        try:
            await self._start()
        except BaseException:
            # A port already taken, an unreachable Redis URL...: release what did start.
            await self.stop(grace=0)
            raise

    async def _start(self) -> None:
        settings = self.settings
        self.engine = make_engine(
            self._database_url, pool_size=settings.db_pool_size, ssl=database_ssl(settings)
        )
        if self._redis_url is not None:
            self.redis = make_redis(self._redis_url, ssl_ca_file=redis_ssl_ca_file(settings))
        if self._own_gateways:
            self.gateways = build_gateways(settings, self.engine)
        deps = self._deps_factory(self.engine)
        self.deps = deps  # for operators' tools and tests: the ports a use case runs with
        idempotency_store = SqlIdempotencyStore(self.engine, self.sealer)
        self.auth = AuthComponents(settings)
        authenticator = Authenticator(
            self.auth.verifier, self._rest_shim_secret, settings.certificate_scopes()
        )
        server = grpc.aio.server(
            interceptors=[
                ComposedInterceptor(self._interceptors(authenticator, idempotency_store))
            ],
            options=[
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", int(self._reuse_port)),
            ],
        )

        def call_deps() -> Deps:
            """For the caller of the current RPC (set by the authentication interceptor)."""
            return deps(actor_var.get(), request_claim_var.get())

        payment_service_pb2_grpc.add_PaymentServiceServicer_to_server(
            PaymentServicer(call_deps), server
        )
        payment_method_service_pb2_grpc.add_PaymentMethodServiceServicer_to_server(
            PaymentMethodServicer(call_deps), server
        )
        fx_service_pb2_grpc.add_FxServiceServicer_to_server(FxServicer(call_deps), server)
        analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server(
            AnalyticsServicer(SqlAnalyticsReader(self.engine)), server
        )
        dispute_service_pb2_grpc.add_DisputeServiceServicer_to_server(
            DisputeServicer(call_deps), server
        )
        self._webhooks = WebhookComponents(settings, deps)
        webhook_service_pb2_grpc.add_WebhookServiceServicer_to_server(
            self._webhooks.servicer, server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        if settings.grpc_reflection_enabled:
            reflection.enable_server_reflection(
                (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME),
                server,
            )  # fmt: skip
        self._bind_grpc(server)
        # Its own connection: a pool busy with requests must not look like a dead database.
        self._health_engine = make_engine(
            self._database_url, pool_size=1, ssl=database_ssl(settings)
        )
        self._watcher = DatabaseHealthWatcher(
            self.health, self._health_engine, settings.health_check_interval_seconds
        )
        await self._watcher.check_once()
        self._watcher.start()
        if self.redis is not None:
            self._redis_watcher = ComponentHealthWatcher(
                self.health,
                REDIS_HEALTH_SERVICE,
                RedisHealth(self.redis).check,
                settings.health_check_interval_seconds,
            )
            await self._redis_watcher.check_once()
            self._redis_watcher.start()
        await server.start()
        self.server = server
        await self._start_rest()
        self._start_jobs(deps, idempotency_store)
        await self._start_ops()
        log.info("gRPC server listening", extra={"port": self.grpc_port})

    async def _start_ops(self) -> None:
        """Last: /readyz must not say ready before every listener and job runs."""
        settings = self.settings
        if not settings.ops_enabled:
            return
        assert self._health_engine is not None
        # The health watcher's connection: a pool busy with calls is not an unready database.
        checks: dict[str, Check] = {
            "database": DatabaseReadiness(self._health_engine, head_revisions())
        }
        if settings.kafka_configured:
            self._kafka_readiness = KafkaReadiness(
                settings.kafka_broker_list(), settings.kafka_client_id, kafka_security(settings)
            )
            checks["kafka"] = self._kafka_readiness
        self.readiness = Readiness(checks, settings.ops_check_timeout_seconds)
        self.ops = OpsServer(
            build_ops_app(self.readiness, self.metrics, lambda: self.metrics.refresh(self.engine)),
            settings.ops_host,
            settings.ops_port,
            reuse_port=self._reuse_port,
        )
        await self.ops.start()
        self.ops_port = self.ops.port

    def _bind_grpc(self, server: grpc.aio.Server) -> None:
        """The gRPC port, over TLS when a certificate is configured.

        The REST shim forwards each call to this server. With TLS on, it does so over a Unix
        socket in a directory only this process's user may enter, not over TLS to the public
        port: that port may demand client certificates the shim does not have, and its
        certificate need not name 127.0.0.1. A Unix socket never leaves the host (no network
        transmission to encrypt) and, unlike a plaintext TCP port on 127.0.0.1, no other user
        or network namespace can reach it. The shim's own port has the same TLS settings."""
        settings = self.settings
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        credentials = grpc_server_credentials(settings)
        if credentials is not None:
            self.grpc_port = server.add_secure_port(address, credentials)
        else:
            self.grpc_port = server.add_insecure_port(address)
            # A worker's loopback must reach its own server, not whichever worker the
            # shared port hands the connection to: a Unix socket of its own, as with TLS.
            if not self._reuse_port:
                wildcard = settings.grpc_host in ("0.0.0.0", "", "::", "[::]")  # noqa: S104
                host = "127.0.0.1" if wildcard else settings.grpc_host
                self.loopback_target = f"{host}:{self.grpc_port}"
                return
        self._loopback_dir = tempfile.mkdtemp(prefix="payments-grpc-")  # mode 0700
        self.loopback_target = f"unix:{self._loopback_dir}/grpc.sock"
        server.add_insecure_port(self.loopback_target)

    async def _start_rest(self) -> None:
        assert self.auth is not None
        self.rest = RestShim(
            build_routes(contract_services()),
            self.metrics,
            lambda: self.metrics.refresh(self.engine),
            Authenticator(self.auth.verifier, self._rest_shim_secret),
            self._rest_shim_secret,
        )
        settings = self.settings
        await self.rest.start(
            settings.grpc_host,
            settings.app_port,
            self.loopback_target,
            ssl_context=rest_ssl_context(settings),
            reuse_port=self._reuse_port,
        )
        self.rest_port = self.rest.port
        log.info("REST shim listening", extra={"port": self.rest_port})

    def _interceptors(
        self, authenticator: Authenticator, store: SqlIdempotencyStore
    ) -> list[grpc.aio.ServerInterceptor]:
        """Outermost first: errors raised by the inner layers are mapped too. Authentication
        goes before rate limiting (which limits the authenticated caller) and idempotency
        (whose keys are scoped by that caller); a call refused by the limiter or the card
        guard never claims an idempotency key, so a refused request stores nothing at all."""
        interceptors: list[grpc.aio.ServerInterceptor] = [
            MetricsInterceptor(self.metrics),
            RequestInterceptor(),
            AuthInterceptor(authenticator),
        ]
        limiter = self._rate_limiter()
        if limiter is not None:
            interceptors.append(RateLimitInterceptor(limiter))
        interceptors.append(CardDataGuard(exempt_services=GATEWAY_SIGNED_SERVICES))
        lease = timedelta(seconds=self.settings.idempotency_lease_seconds)

        def new_request(
            key: IdempotencyKey, fingerprint: str, render: Render, deferred: bool
        ) -> RequestClaim:
            return RequestClaim(
                store, key, fingerprint=fingerprint, lease=lease, render=render,
                clock=SystemClock().now, deferred=deferred,
            )  # fmt: skip

        interceptors.append(IdempotencyInterceptor(self._idempotency(store), store, new_request))
        return interceptors

    def _rate_limiter(self) -> RedisTokenBucket | None:
        s = self.settings
        if not s.rate_limit_enabled:
            return None
        if self.redis is None:
            log.warning("RATE_LIMIT_ENABLED but no Redis is configured: no rate limiting")
            return None
        return RedisTokenBucket(
            self.redis,
            prefix=s.redis_key_prefix,
            rate_per_second=s.rate_limit_requests_per_second,
            burst=s.rate_limit_burst,
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
            self._http = httpx.AsyncClient()
            key = s.fraud_scorer_api_key
            scorer = HttpRiskScorer(
                self._http,
                s.fraud_scorer_url,
                timeout_seconds=s.fraud_scorer_timeout_seconds,
                api_key=key.get_secret_value() if key is not None else None,
            )
        return RiskEngine(policy, velocity=velocity, scorer=scorer)

    def development_token(self) -> str | None:
        """An admin token signed by the development key, None when that key is not in use."""
        return self.auth.development_token(self.settings) if self.auth is not None else None

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

    def _idempotency(self, store: SqlIdempotencyStore) -> Idempotency:
        settings = self.settings
        cache: AnswerCache = (
            RedisAnswerCache(
                self.redis,
                prefix=settings.redis_key_prefix,
                retention=timedelta(hours=settings.idempotency_retention_hours),
                cipher=self.sealer.cipher,
            )
            if self.redis is not None
            else NoAnswerCache()
        )
        return Idempotency(
            store, cache, SystemClock(), timedelta(seconds=settings.idempotency_lease_seconds)
        )

    def _start_jobs(self, deps: Callable[[Actor], Deps], store: SqlIdempotencyStore) -> None:
        assert self.engine is not None
        wiring = JobWiring(self.settings, self.engine, self.metrics, deps)
        self.background = Background(
            leader_lease(self.settings, self._database_url),
            self.settings.background_lease_seconds,
            # One process at a time across workers and replicas (server/background.py).
            singletons=[
                *wiring.housekeeping(store),
                *wiring.outbox(),
                *wiring.fx_rates(),
                *wiring.analytics(),
            ],
            # Every worker: Kafka's consumer group shares the partitions out.
            # the audit chain's linker too: its own lease lets one link at a time.
            everywhere=[
                *wiring.order_events(),
                audit_link_job(self.engine, self.settings, self.metrics),
            ],
            on_leader=self.metrics.background_leader.set,
        )
        self.background.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls (health NOT_SERVING), let in-flight calls finish, then release."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self.readiness is not None:  # /readyz 503 while draining: endpoints drop us
            self.readiness.draining = True
        await self.health.enter_graceful_shutdown()
        if self.background is not None:  # before the engine: a job may be mid-event
            await self.background.stop()
        if self._watcher is not None:
            await self._watcher.stop()
        if self._redis_watcher is not None:
            await self._redis_watcher.stop()
        if self.rest is not None:  # REST calls go through the gRPC server: stop them first
            await self.rest.stop()
        if self.server is not None:
            await self.server.stop(grace)
        if self.ops is not None:  # last listener: probes see the drain until the end
            await self.ops.stop()
        await self._release_clients()
        log.info("stopped")

    async def _release_clients(self) -> None:
        """Connections and files, once no call can use them any more."""
        await close_gateways(self.gateways)
        if self._kafka_readiness is not None:
            await self._kafka_readiness.close()
        if self._webhooks is not None:
            await self._webhooks.aclose()
        if self._http is not None:
            await self._http.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        if self.auth is not None:
            await self.auth.aclose()
        if self.engine is not None:
            await self.engine.dispose()
        if self._health_engine is not None:
            await self._health_engine.dispose()
        if self._loopback_dir is not None:
            shutil.rmtree(self._loopback_dir, ignore_errors=True)
