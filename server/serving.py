"""`payment-service serve`: one process, or a supervisor and its worker processes
(server/supervisor.py, server/worker.py), as many as the connection budget allows
(server/db_budget.py). The supervisor never imports the application (server/app.py and all
it brings): only the single process and the workers do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from server import event_loop
from server.auth_config import AuthComponents
from server.cli import banner, resolve_kafka, resolve_redis
from server.config import Settings
from server.db_budget import BudgetError, ConnectionBudget, budget_for, database_allowance
from server.supervisor import PortInUse, reserve_port, supervise

log = logging.getLogger("payments.cli")


def run_serve(settings: Settings, database_url: str, database: str, workers: int | None) -> None:
    """After the migrations: the embedded services (once), the budget, then the server."""
    redis_url, redis = resolve_redis(settings)
    served, kafka = resolve_kafka(settings)
    budget = connection_budget(served, database_url, workers)
    served = served.model_copy(update={"db_pool_size": budget.pool_size})
    if budget.workers > 1:
        env = worker_environment(settings, served, database_url, redis_url)
        raise SystemExit(run_workers(served, budget, env, (database, redis, kafka)))
    event_loop.run(serve(served, database_url, database, redis_url, redis, kafka=kafka))


async def serve(
    settings: Settings,
    database_url: str,
    database: str,
    redis_url: str | None = None,
    redis: str = "none",
    *,
    kafka: str = "none",
) -> None:
    """One process (no supervisor): it serves, and drains on SIGTERM or SIGINT."""
    from server.app import PaymentApplication
    from server.worker import serve_until_signalled

    app = PaymentApplication(settings, database_url, redis_url=redis_url)

    def started() -> None:
        text = banner(
            settings,
            app.grpc_port,
            database,
            redis,
            app.rest_port,
            kafka=kafka,
            token=app.development_token(),
            ops_port=app.ops_port,
        )
        print(text, flush=True)

    await serve_until_signalled(app, started)


def connection_budget(
    settings: Settings, database_url: str, workers: int | None
) -> ConnectionBudget:
    """Workers and pool size that fit the database's max_connections (server/db_budget.py);
    exit 2 when what is configured cannot fit."""
    available = asyncio.run(database_allowance(settings, database_url))
    try:
        budget = budget_for(settings, workers, available)
    except BudgetError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("database connection budget: %s", budget.describe())
    return budget


def worker_environment(
    configured: Settings, served: Settings, database_url: str, redis_url: str | None
) -> dict[str, str]:
    """The workers' environment: this one, plus what this process resolved that they must not
    resolve again (embedded services run once, here) and the computed pool size."""
    env = dict(os.environ) | {"DB_POOL_SIZE": str(served.db_pool_size)}
    if not configured.database_configured:
        env["DATABASE_URL"] = database_url
    if not configured.redis_configured and redis_url is not None:
        env["REDIS_URL"] = redis_url
    if not configured.kafka_configured and served.kafka_brokers:
        env["KAFKA_BROKERS"] = served.kafka_brokers
        env["KAFKA_ENABLE_IDEMPOTENCE"] = str(served.kafka_enable_idempotence).lower()
    return env


def run_workers(
    settings: Settings,
    budget: ConnectionBudget,
    env: dict[str, str],
    descriptions: tuple[str, str, str],
) -> int:
    """The supervisor (server/supervisor.py): the banner once every worker serves."""
    database, redis, kafka = descriptions
    try:
        grpc_socket = reserve_port(settings.grpc_host, settings.grpc_port)
        rest_socket = reserve_port(settings.grpc_host, settings.app_port)
        # The ops port too: every worker serves it (server/ops_port.py says why).
        ops_socket = (
            reserve_port(settings.ops_host, settings.ops_port) if settings.ops_enabled else None
        )
    except PortInUse as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 2
    with grpc_socket, rest_socket, ops_socket or contextlib.nullcontext():
        grpc_port, rest_port = grpc_socket.getsockname()[1], rest_socket.getsockname()[1]
        env = env | {"GRPC_PORT": str(grpc_port), "APP_PORT": str(rest_port)}
        if ops_socket is not None:
            env["OPS_PORT"] = str(ops_socket.getsockname()[1])
        token = AuthComponents(settings).development_token(settings)
        ops_port = 0 if ops_socket is None else ops_socket.getsockname()[1]

        def ready(pids: list[int]) -> None:
            text = banner(
                settings, grpc_port, database, redis, rest_port,
                kafka=kafka, token=token, ops_port=ops_port,
            )  # fmt: skip
            workers = f"  workers   {len(pids)} processes, pids {' '.join(map(str, pids))}"
            print(f"{text}\n{workers}", flush=True)

        return supervise(
            budget.workers, env, drain_seconds=settings.shutdown_grace_seconds, on_ready=ready
        )
