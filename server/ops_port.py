"""The ops port (OPS_PORT): /livez, /readyz and /metrics over plaintext HTTP, no token.

Probes and scrapes come from the kubelet and Prometheus, which hold neither the callers'
tokens nor, with TLS on, a client certificate the public ports would accept: so they get a
port of their own that serves nothing else. It runs in the service's event loop, so /livez
answering proves that loop still turns.

With `serve --workers N` every worker binds this port with SO_REUSEPORT, like the gRPC and
REST ports (server/supervisor.py reserves it). Chosen over the supervisor serving it: the
supervisor runs no event loop of the service and opens no connection, so it could only relay
the workers' answers; a worker answers for itself with the same code as a single process.
/metrics is the same from any worker (prometheus_client's multiprocess mode sums them); a
probe reaches one worker at a time, and a worker that dies is restarted by the supervisor,
which is what liveness is for."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.metrics import ServiceMetrics
from server.readiness import Readiness
from server.rest.app import RestServer
from server.rest.metrics import metrics_endpoint

log = logging.getLogger("payments.ops")


def build_ops_app(
    readiness: Readiness, metrics: ServiceMetrics, refresh: Callable[[], Awaitable[None]]
) -> Starlette:
    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        problems = await readiness.problems()
        checks = {name: problems.get(name, "ok") for name in readiness.names} | problems
        body: dict[str, object] = {"status": "not ready" if problems else "ready", "checks": checks}
        if problems:
            body["failed"] = sorted(problems)
        return JSONResponse(body, status_code=503 if problems else 200)

    return Starlette(
        routes=[
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint(metrics, refresh), methods=["GET"]),
        ]
    )


class OpsServer:
    """The ops port's HTTP server (never TLS: see the module's docstring)."""

    def __init__(self, app: Starlette, host: str, port: int, *, reuse_port: bool) -> None:
        bind_host = host.strip("[]") or "0.0.0.0"  # noqa: S104
        self._server = RestServer(app, bind_host, port, None, reuse_port=reuse_port)
        self.port = self._server.port

    async def start(self) -> None:
        await self._server.start()
        log.info("ops port listening", extra={"port": self.port})

    async def stop(self) -> None:
        await self._server.stop()
