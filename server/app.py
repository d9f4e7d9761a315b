"""Composition root: builds the engine, gateways and servicers, then the gRPC server, and
shuts them down in reverse order."""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import timedelta

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from domain.idempotency import AnswerCache
from domain.ownership import OwnerScopedUnitOfWork
from domain.ports import CircuitBreaker
from domain.retention import RetentionPolicy
from domain.retry import RetryPolicy
from domain.risk_engine import RiskEngine
from domain.usecases.deps import Deps
from domain.usecases.idempotent import Idempotency
from domain.usecases.reconcile import Reconciler
from domain.usecases.retry_worker import RetryWorker
from infra.cache import RedisHealth, make_redis
from infra.cache.circuit import LocalCircuitBreaker, RedisCircuitBreaker
from infra.cache.idempotency import NoAnswerCache, RedisAnswerCache
from infra.cache.rate_limit import RedisTokenBucket
from infra.cache.velocity import RedisVelocityCounter
from infra.currency import iso4217_catalog
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.retention import SqlRetentionStore
from infra.db.sealing import Sealer
from infra.db.uow import SqlUnitOfWork
from infra.fraud.scorer import HttpRiskScorer
from infra.gateways.directory import RoutedGatewayDirectory
from infra.messaging.consumer import OrderEventsConsumer
from infra.messaging.relay import OutboxRelay
from infra.system import SystemClock, UuidGenerator
from payments.v1 import (
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
from server.card_guard import CardDataGuard
from server.config import Settings
from server.encryption import build_sealer
from server.gateway_timing import timed
from server.gateways import build_gateways, close_gateways
from server.health import ComponentHealthWatcher, DatabaseHealthWatcher
from server.idempotency import IdempotencyInterceptor
from server.interceptors import RequestInterceptor
from server.jobs import (
    PeriodicJob,
    idempotency_purge_job,
    outbox_purge_job,
    reconciler_job,
    retention_job,
    retry_job,
)
from server.messaging import build_order_consumer, build_outbox_relay
from server.metrics import MetricsInterceptor, ServiceMetrics
from server.pci import require_pci_compliance
from server.rate_limit import RateLimitInterceptor
from server.rest.app import RestShim
from server.rest.routes import build_routes, contract_services
from server.servicers.payment_methods import PaymentMethodServicer
from server.servicers.payments import PaymentServicer
from server.tls import grpc_server_credentials, rest_ssl_context
from server.transport import database_ssl, redis_ssl_ca_file
from server.webhooks import WebhookComponents

log = logging.getLogger("payments.app")

# grpc.health.v1 service name under which Redis is reported (absent when Redis is disabled).
REDIS_HEALTH_SERVICE = "redis"

SERVICE_NAMES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"].full_name,
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
)

# Requests that are gateways' signed data, not callers' input: not refused by the card guard.
GATEWAY_SIGNED_SERVICES = (
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
)


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        webhook_payloads=timedelta(days=settings.webhook_payload_retention_days),
        personal_data=timedelta(days=settings.personal_data_retention_days),
        audit_log=timedelta(days=settings.audit_retention_days),
        batch_size=settings.retention_batch_size,
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
    ) -> None:
        self.settings = settings
        self._database_url = database_url
        # Seals and opens the encrypted columns; raises EncryptionNotConfigured in
        # staging/production without keys, before anything starts.
        self.sealer: Sealer = build_sealer(settings)
        # Given (tests), or built from the settings at start.
        self.gateways: dict[GatewayName, PaymentGateway] = dict(gateways or {})
        self._own_gateways = gateways is None
        self._jobs: list[PeriodicJob] = []
        # Publishes the outbox to Kafka; None when KAFKA_BROKERS is unset (events wait).
        self.relay: OutboxRelay | None = None
        # Consumes order.events (same condition as the relay).
        self.order_consumer: OrderEventsConsumer | None = None
        self.engine: AsyncEngine | None = None
        self._health_engine: AsyncEngine | None = None
        self.deps: Callable[[], Deps] | None = None
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
        self.rest: RestShim | None = None
        self.rest_port: int = 0
        # For the external risk scorer (FRAUD_SCORER_URL), when one is configured.
        self._http: httpx.AsyncClient | None = None
        self.auth: AuthComponents | None = None
        # Lets the gRPC server tell the REST shim's forwarded calls from others.
        self._rest_shim_secret = secrets.token_urlsafe(32)

    def _deps_factory(self, engine: AsyncEngine) -> Callable[[], Deps]:
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

        def deps() -> Deps:
            # A fresh unit of work per call: it holds that call's connection.
            return Deps(
                # Every read and write of a use case passes the per-user access rule.
                OwnerScopedUnitOfWork(SqlUnitOfWork(engine, self.sealer)),
                directory,
                clock,
                ids,
                currencies,
                gateway_timeout=self.settings.gateway_timeout_seconds,
                breaker=breaker,
                retry_policy=retry_policy,
                risk=risk,
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
            interceptors=self._interceptors(authenticator, idempotency_store),
            options=[
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        payment_service_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentServicer(deps), server)
        payment_method_service_pb2_grpc.add_PaymentMethodServiceServicer_to_server(
            PaymentMethodServicer(deps), server
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
        log.info("gRPC server listening", extra={"port": self.grpc_port})

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
        if credentials is None:
            self.grpc_port = server.add_insecure_port(address)
            wildcard = settings.grpc_host in ("0.0.0.0", "", "::", "[::]")  # noqa: S104
            host = "127.0.0.1" if wildcard else settings.grpc_host
            self.loopback_target = f"{host}:{self.grpc_port}"
            return
        self.grpc_port = server.add_secure_port(address, credentials)
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
        interceptors.append(IdempotencyInterceptor(self._idempotency(store)))
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

    def _start_jobs(self, deps: Callable[[], Deps], store: SqlIdempotencyStore) -> None:
        settings = self.settings
        assert self.engine is not None
        reconciler = Reconciler(deps, timedelta(seconds=settings.reconcile_after_seconds))
        self._jobs = [
            reconciler_job(reconciler, settings.reconcile_interval_seconds),
            retry_job(RetryWorker(deps), settings.retry_poll_interval_seconds),
            idempotency_purge_job(
                store,
                SystemClock(),
                timedelta(hours=settings.idempotency_retention_hours),
                settings.idempotency_purge_interval_seconds,
            ),
            retention_job(
                SqlRetentionStore(self.engine),
                retention_policy(settings),
                SystemClock(),
                settings.retention_interval_seconds,
            ),
        ]
        # The audit chain's linker (one holder of the lease links; the others wait).
        self._jobs.append(audit_link_job(self.engine, settings, self.metrics))
        if settings.kafka_configured:
            self.relay = build_outbox_relay(settings, self.engine, self.metrics)
            self._jobs.append(
                outbox_purge_job(
                    self.relay,
                    SystemClock(),
                    timedelta(hours=settings.outbox_retention_hours),
                    settings.idempotency_purge_interval_seconds,
                )
            )
            self.relay.start()
            self.order_consumer = build_order_consumer(settings, deps)
            self.order_consumer.start()
        for job in self._jobs:
            job.start()

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls (health NOT_SERVING), let in-flight calls finish, then release."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        for job in self._jobs:
            await job.stop()
        if self.order_consumer is not None:  # before the engine: it may be mid-event
            await self.order_consumer.stop()
        if self.relay is not None:  # closes its producer
            await self.relay.stop()
        if self._watcher is not None:
            await self._watcher.stop()
        if self._redis_watcher is not None:
            await self._redis_watcher.stop()
        if self.rest is not None:  # REST calls go through the gRPC server: stop them first
            await self.rest.stop()
        if self.server is not None:
            await self.server.stop(grace)
        await self._release_clients()
        log.info("stopped")

    async def _release_clients(self) -> None:
        """Connections and files, once no call can use them any more."""
        await close_gateways(self.gateways)
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
