"""The running service: the object graph comes from a pure build (server/composition.py);
`start()` starts its resources inside an AsyncExitStack, each registering its own cleanup as
it starts, so `stop()` (or a start that fails half way) releases them in reverse order.

Start order, and so (reversed) the stop order:
  clients (engines, Redis, gateways, HTTP clients) - released last, once nothing uses them
  ops port, /readyz "starting"                     - up first, down last: probes see the drain
  the development key / JWKS, the gRPC server bound, health watchers
  gRPC server serving                              - stopped with SHUTDOWN_GRACE_SECONDS
  REST shim                                        - forwards to the gRPC server: stops before it
  background jobs                                  - stop before the engine: a job may be mid-event
  ready; on stop: drain first (/readyz 503, health NOT_SERVING)
A new resource (a tracer provider ...) starts where it belongs and pushes its own cleanup."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from domain.idempotency import AnswerCache, IdempotencyKey
from domain.usecases.deps import Deps
from domain.usecases.idempotent import Idempotency
from infra.cache import RedisHealth
from infra.cache.idempotency import NoAnswerCache, RedisAnswerCache
from infra.cache.rate_limit import RedisTokenBucket
from infra.db.analytics_reader import SqlAnalyticsReader
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.request_claim import RequestClaim
from infra.system import SystemClock
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
from server.auth import Authenticator, AuthInterceptor
from server.auth_config import AuthComponents
from server.card_guard import CardDataGuard
from server.composition import DepsFactory, ServiceGraph
from server.config import Settings
from server.context import actor_var, request_claim_var
from server.contract_rules import ContractRules, ContractRulesInterceptor
from server.gateways import close_gateways
from server.health import ComponentHealthWatcher, DatabaseHealthWatcher
from server.idempotency import IdempotencyInterceptor, Render
from server.interceptors import ComposedInterceptor, RequestInterceptor
from server.metrics import MetricsInterceptor
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
from server.tracing import start_tracing
from server.transport import kafka_security

if TYPE_CHECKING:  # only with tracing on (server/tracing.py)
    from server.tracing_sdk import Tracing

__all__ = ["DepsFactory", "PaymentApplication"]

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
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        # Given (tests: an in-memory exporter), or from the settings; None while tracing is
        # off: then nothing is traced, intercepted or instrumented. Before the graph: its
        # gateways, units of work and jobs take the tracer.
        self._own_tracing = tracing is None
        self.tracing = start_tracing(settings) if tracing is None else tracing
        # One of several worker processes sharing the ports (SO_REUSEPORT, server/worker.py).
        self._reuse_port = reuse_port
        graph = self.graph = ServiceGraph(
            settings, database_url, gateways=gateways, redis_url=redis_url, tracing=self.tracing
        )
        # The graph's parts operators' tools and tests reach for.
        self.sealer, self.gateways, self.metrics = graph.sealer, graph.gateways, graph.metrics
        self.engine, self.redis, self.health = graph.engine, graph.redis, graph.health
        self.deps: DepsFactory = graph.deps
        self.background, self.breaker = graph.background, graph.breaker
        # Started by start(): None / 0 until then.
        self.server: grpc.aio.Server | None = None
        self.grpc_port: int = 0
        # Where the REST shim reaches the gRPC server: 127.0.0.1:port or unix:path (_bind_grpc).
        self.loopback_target = ""
        self.rest: RestShim | None = None
        self.rest_port: int = 0
        # The ops port (server/ops_port.py): probes and metrics without a token; 0 when off.
        self.ops: OpsServer | None = None
        self.ops_port: int = 0
        self.readiness: Readiness | None = None
        self.auth: AuthComponents | None = None
        self._stack: AsyncExitStack | None = None
        self._grace = settings.shutdown_grace_seconds

    async def start(self) -> None:
        require_pci_compliance(self.settings)  # before anything listens or connects
        stack = AsyncExitStack()
        try:
            await self._start(stack)
        except BaseException:
            # A port already taken, an unreachable Redis URL...: release what did start.
            self._grace = 0
            await stack.aclose()
            raise
        self._stack = stack
        log.info("gRPC server listening", extra={"port": self.grpc_port})

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls (health NOT_SERVING), let in-flight calls finish, then release."""
        self._grace = self.settings.shutdown_grace_seconds if grace is None else grace
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        log.info("stopped")

    async def _start(self, stack: AsyncExitStack) -> None:
        graph = self.graph
        self._shut_tracing_down_last(stack)
        self._release_clients_last(stack)
        await self._start_ops(stack)
        self.auth = AuthComponents(self.settings)
        stack.push_async_callback(self.auth.aclose)
        server = self._grpc_server(self.auth)
        self._bind_grpc(server, stack)
        await self._watch_health(stack)
        await server.start()
        self.server = server
        stack.push_async_callback(self._stop_grpc)
        await self._start_rest(stack)
        graph.background.start()
        stack.push_async_callback(graph.background.stop)
        if self.readiness is not None:
            self.readiness.starting = False
        stack.push_async_callback(self._drain)

    def _shut_tracing_down_last(self, stack: AsyncExitStack) -> None:
        """The spans of the shutdown go out too. The exporter's flush blocks: off the loop."""
        tracing = self.tracing
        if tracing is not None and self._own_tracing:
            stack.push_async_callback(asyncio.to_thread, tracing.shutdown)

    def _release_clients_last(self, stack: AsyncExitStack) -> None:
        """Connections and files, released once no call or job can use them any more."""
        graph = self.graph
        stack.push_async_callback(graph.health_engine.dispose)
        stack.push_async_callback(graph.engine.dispose)
        if graph.redis is not None:
            stack.push_async_callback(graph.redis.aclose)
        if graph.scorer_http is not None:
            stack.push_async_callback(graph.scorer_http.aclose)
        stack.push_async_callback(graph.webhooks.aclose)
        stack.push_async_callback(close_gateways, graph.gateways)

    async def _drain(self) -> None:
        if self.readiness is not None:  # /readyz 503 while draining: endpoints drop us
            self.readiness.draining = True
        await self.health.enter_graceful_shutdown()

    async def _stop_grpc(self) -> None:
        if self.server is not None:
            await self.server.stop(self._grace)

    async def _start_ops(self, stack: AsyncExitStack) -> None:
        """First, saying "starting" until the rest runs: /livez answers during a slow start,
        and /readyz never says ready before every listener and job runs."""
        settings = self.settings
        if not settings.ops_enabled:
            return
        # The health watcher's connection: a pool busy with calls is not an unready database.
        checks: dict[str, Check] = {
            "database": DatabaseReadiness(self.graph.health_engine, head_revisions())
        }
        if settings.kafka_configured:
            kafka = KafkaReadiness(
                settings.kafka_broker_list(), settings.kafka_client_id, kafka_security(settings)
            )
            stack.push_async_callback(kafka.close)
            checks["kafka"] = kafka
        self.readiness = Readiness(checks, settings.ops_check_timeout_seconds)
        ops = OpsServer(
            build_ops_app(self.readiness, self.metrics, self.graph.scrape),
            settings.ops_host,
            settings.ops_port,
            reuse_port=self._reuse_port,
        )
        await ops.start()
        stack.push_async_callback(ops.stop)
        self.ops, self.ops_port = ops, ops.port

    async def _watch_health(self, stack: AsyncExitStack) -> None:
        graph, interval = self.graph, self.settings.health_check_interval_seconds
        watchers: list[DatabaseHealthWatcher | ComponentHealthWatcher] = [
            DatabaseHealthWatcher(self.health, graph.health_engine, interval)
        ]
        if graph.redis is not None:
            redis_check = RedisHealth(graph.redis).check
            watchers.append(
                ComponentHealthWatcher(self.health, REDIS_HEALTH_SERVICE, redis_check, interval)
            )
        for watcher in watchers:
            await watcher.check_once()
            watcher.start()
            stack.push_async_callback(watcher.stop)

    def _grpc_server(self, auth: AuthComponents) -> grpc.aio.Server:
        graph, settings = self.graph, self.settings
        authenticator = Authenticator(
            auth.verifier, graph.rest_shim_secret, settings.certificate_scopes()
        )
        composed = ComposedInterceptor(self._interceptors(authenticator))
        server = grpc.aio.server(
            # Tracing on: the server span outermost, so every layer's work is inside it.
            interceptors=(
                [composed]
                if self.tracing is None
                else [self.tracing.server_interceptor(), composed]
            ),
            options=[
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", int(self._reuse_port)),
            ],
        )
        deps = graph.deps

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
        webhook_service_pb2_grpc.add_WebhookServiceServicer_to_server(
            graph.webhooks.servicer, server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        if settings.grpc_reflection_enabled:
            reflection.enable_server_reflection(
                (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME),
                server,
            )  # fmt: skip
        return server

    def _bind_grpc(self, server: grpc.aio.Server, stack: AsyncExitStack) -> None:
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
        directory = tempfile.mkdtemp(prefix="payments-grpc-")  # mode 0700
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        self.loopback_target = f"unix:{directory}/grpc.sock"
        server.add_insecure_port(self.loopback_target)

    async def _start_rest(self, stack: AsyncExitStack) -> None:
        assert self.auth is not None
        graph, settings = self.graph, self.settings
        rest = RestShim(
            build_routes(contract_services()),
            self.metrics,
            graph.scrape,
            Authenticator(self.auth.verifier, graph.rest_shim_secret),
            graph.rest_shim_secret,
            tracer=self.tracing.tracer if self.tracing is not None else None,
            interceptors=self.tracing.client_interceptors() if self.tracing is not None else (),
        )
        await rest.start(
            settings.grpc_host,
            settings.app_port,
            self.loopback_target,
            ssl_context=rest_ssl_context(settings),
            reuse_port=self._reuse_port,
        )
        stack.push_async_callback(rest.stop)
        self.rest, self.rest_port = rest, rest.port
        log.info("REST shim listening", extra={"port": self.rest_port})

    def _interceptors(self, authenticator: Authenticator) -> list[grpc.aio.ServerInterceptor]:
        """Outermost first: errors raised by the inner layers are mapped too. Authentication
        goes before rate limiting (which limits the authenticated caller) and idempotency
        (whose keys are scoped by that caller); a call refused by the limiter or the card
        guard never claims an idempotency key, so a refused request stores nothing at all."""
        store = self.graph.idempotency_store
        interceptors: list[grpc.aio.ServerInterceptor] = [
            MetricsInterceptor(self.metrics),
            RequestInterceptor(),
            AuthInterceptor(authenticator),
        ]
        limiter = self._rate_limiter()
        if limiter is not None:
            interceptors.append(RateLimitInterceptor(limiter))
        interceptors.append(CardDataGuard(exempt_services=GATEWAY_SIGNED_SERVICES))
        # The contract's buf.validate rules: after the card guard (card data is refused as
        # such, never echoed in a violation), before idempotency (nothing is stored).
        interceptors.append(
            ContractRulesInterceptor(ContractRules(), exempt_services=GATEWAY_SIGNED_SERVICES)
        )
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

    def development_token(self) -> str | None:
        """An admin token signed by the development key, None when that key is not in use."""
        return self.auth.development_token(self.settings) if self.auth is not None else None
