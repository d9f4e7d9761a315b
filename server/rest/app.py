"""The Starlette application of the REST shim, and the uvicorn server that runs it inside the
gRPC server's process and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence

import grpc
import uvicorn
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.trace import Tracer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute

from domain.access import METRICS_READ
from server.auth import Authenticator
from server.metrics import ServiceMetrics
from server.rest.auth import requires_scope
from server.rest.errors import http_error
from server.rest.forward import Endpoint, endpoint
from server.rest.metrics import RestMetricsMiddleware, metrics_endpoint
from server.rest.openapi import openapi_document
from server.rest.routes import Route
from server.rest.tracing import traced

log = logging.getLogger("payments.rest")


def _dispatcher(by_method: dict[str, Endpoint]) -> Endpoint:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await by_method[method](request)

    return dispatch


def _health_endpoint(channel: grpc.aio.Channel) -> Endpoint:
    stub = health_pb2_grpc.HealthStub(channel)

    async def health(_: Request) -> Response:
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        except grpc.aio.AioRpcError as error:
            status = f"UNREACHABLE: {error.code().name}"
        return JSONResponse({"status": status}, status_code=200 if status == "SERVING" else 503)

    return health


async def _http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such route", 405: "method not allowed on this route"}
    message = messages.get(exc.status_code, str(exc.detail))
    return http_error(exc.status_code, message, headers=exc.headers)


async def _internal(_: Request, exc: Exception) -> Response:
    log.error("unhandled error in the REST shim", exc_info=exc)
    return http_error(500, "internal error")


def build_app(
    routes: list[Route],
    channel: grpc.aio.Channel,
    metrics: ServiceMetrics,
    refresh_metrics: Callable[[], Awaitable[None]],
    *,
    authenticator: Authenticator,
    shim_secret: str,
    tracer: Tracer | None = None,
) -> Starlette:
    """Every route of the contract forwards to gRPC, where the caller is authenticated;
    /metrics checks the token here; /health and /openapi.json are public."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for route in routes:
        handler = endpoint(route, channel, shim_secret)
        if tracer is not None:  # tracing on: a server span per call
            handler = traced(tracer, route.http_method, route.path, handler)
        by_path.setdefault(route.path, {})[route.http_method] = handler
    document = openapi_document(routes, "payment-service", "v1")

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    table: list[BaseRoute] = [
        StarletteRoute(path, _dispatcher(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]
    table += [
        StarletteRoute("/openapi.json", openapi, methods=["GET"]),
        StarletteRoute("/health", _health_endpoint(channel), methods=["GET"]),
        StarletteRoute(
            "/metrics",
            requires_scope(authenticator, METRICS_READ, metrics_endpoint(metrics, refresh_metrics)),
            methods=["GET"],
        ),
    ]
    return Starlette(
        routes=table,
        middleware=[Middleware(RestMetricsMiddleware, metrics=metrics, routes=table)],
        exception_handlers={HTTPException: _http_exception, Exception: _internal},
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the CLI owns SIGTERM/SIGINT and stops the REST server itself


class RestServer:
    """uvicorn on a socket bound here (port 0 picks a free port), as a task of this loop.
    `reuse_port`: each worker process binds the same port (SO_REUSEPORT) and the kernel
    spreads the connections over them, as for the gRPC port; a worker that dies takes only
    its own socket's queue with it."""

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        *,
        reuse_port: bool = False,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._socket.bind((host, port))
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            # None: uvicorn adds no handlers of its own; its records reach the root logger's
            # (JSON, redacted) like every other line.
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            ssl_context_factory=None if ssl_context is None else (lambda _c, _d: ssl_context),
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="rest")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
                raise RuntimeError("the REST server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()


class RestShim:
    """The REST shim of one application: a loopback channel to its gRPC server (so every
    interceptor applies to REST calls as to gRPC ones) and the HTTP server in front."""

    def __init__(
        self,
        routes: list[Route],
        metrics: ServiceMetrics,
        refresh_metrics: Callable[[], Awaitable[None]],
        authenticator: Authenticator,
        shim_secret: str,
        *,
        tracer: Tracer | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self._routes = routes
        # Tracing on: the shim's server spans, and the loopback's interceptors that carry
        # their context to the gRPC server (server/tracing.py).
        self._tracer = tracer
        self._interceptors = list(interceptors)
        self._metrics = metrics
        self._refresh = refresh_metrics
        self._authenticator = authenticator
        self._shim_secret = shim_secret
        self._channel: grpc.aio.Channel | None = None
        self._server: RestServer | None = None
        self.port = 0

    async def start(
        self,
        host: str,
        port: int,
        grpc_target: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Serve on host:port (HTTPS with `ssl_context`), forwarding to the gRPC server at
        `grpc_target`, a loopback address of it (127.0.0.1:port or unix:path)."""
        self._channel = grpc.aio.insecure_channel(
            grpc_target, interceptors=self._interceptors or None
        )
        app = build_app(
            self._routes,
            self._channel,
            self._metrics,
            self._refresh,
            authenticator=self._authenticator,
            shim_secret=self._shim_secret,
            tracer=self._tracer,
        )
        bind_host = host.strip("[]") or "0.0.0.0"  # noqa: S104
        self._server = RestServer(app, bind_host, port, ssl_context, reuse_port=reuse_port)
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
        if self._channel is not None:
            await self._channel.close()
