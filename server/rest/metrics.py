"""REST metrics: an ASGI middleware counting and timing requests by route template, and the
GET /metrics endpoint (Prometheus text format)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import ServiceMetrics

UNMATCHED = "unmatched"


class RestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self._metrics = metrics
        self._routes = routes

    def _route_of(self, scope: Scope) -> str:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return str(getattr(route, "path", UNMATCHED))
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route, method = self._route_of(scope), scope["method"]
            self._metrics.rest_requests.labels(
                method=method, route=route, status=str(status["code"])
            ).inc()
            self._metrics.rest_latency.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )


def metrics_endpoint(
    metrics: ServiceMetrics, refresh: Callable[[], Awaitable[None]]
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(_: Request) -> Response:
        await refresh()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return handle
