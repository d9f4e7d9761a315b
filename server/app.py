"""Composition root: builds the engine, gateways and servicers, then the gRPC server, and
shuts them down in reverse order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from domain.usecases.deps import Deps
from infra.currency import CldrCurrencyCatalog
from infra.db.engine import make_engine
from infra.db.uow import SqlUnitOfWork
from infra.gateways.directory import StaticGatewayDirectory
from infra.gateways.simulator import SimulatorGateway
from infra.system import SystemClock, UuidGenerator
from payments.v1 import (
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
    payment_service_pb2,
    payment_service_pb2_grpc,
)
from server.config import Settings
from server.health import DatabaseHealthWatcher
from server.interceptors import RequestInterceptor
from server.servicers.payment_methods import PaymentMethodServicer
from server.servicers.payments import PaymentServicer

log = logging.getLogger("payments.app")

SERVICE_NAMES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"].full_name,
)


class PaymentApplication:
    """The running service. `start()` binds and serves; `stop()` drains and releases."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        gateways: Mapping[GatewayName, PaymentGateway] | None = None,
    ) -> None:
        self.settings = settings
        self._database_url = database_url
        simulator = SimulatorGateway(latency_seconds=settings.simulator_latency_ms / 1000)
        self.gateways = dict(gateways or {GatewayName.SIMULATOR: simulator})
        self.engine: AsyncEngine | None = None
        self.server: grpc.aio.Server | None = None
        self.health = health_aio.HealthServicer()
        self._watcher: DatabaseHealthWatcher | None = None
        self.grpc_port: int = 0

    def _deps_factory(self, engine: AsyncEngine) -> Callable[[], Deps]:
        directory = StaticGatewayDirectory(self.gateways, self.settings.default_gateway)
        clock, ids, currencies = SystemClock(), UuidGenerator(), CldrCurrencyCatalog()

        def deps() -> Deps:
            # A fresh unit of work per call: it holds that call's connection.
            return Deps(SqlUnitOfWork(engine), directory, clock, ids, currencies)

        return deps

    async def start(self) -> None:
        settings = self.settings
        self.engine = make_engine(self._database_url, pool_size=settings.db_pool_size)
        deps = self._deps_factory(self.engine)
        server = grpc.aio.server(
            interceptors=[RequestInterceptor()],
            options=[
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        payment_service_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentServicer(deps), server)
        payment_method_service_pb2_grpc.add_PaymentMethodServiceServicer_to_server(
            PaymentMethodServicer(deps), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            server,
        )  # fmt: skip
        self.grpc_port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        self._watcher = DatabaseHealthWatcher(
            self.health, self.engine, settings.health_check_interval_seconds
        )
        await self._watcher.check_once()
        self._watcher.start()
        await server.start()
        self.server = server
        log.info("gRPC server listening", extra={"port": self.grpc_port})

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls (health NOT_SERVING), let in-flight calls finish, then release."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        if self._watcher is not None:
            await self._watcher.stop()
        if self.server is not None:
            await self.server.stop(grace)
        if self.engine is not None:
            await self.engine.dispose()
        log.info("stopped")
