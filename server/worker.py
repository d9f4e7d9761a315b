"""One worker process of `payment-service serve --workers N`, started by the supervisor
(server/supervisor.py) as `python -m server.worker --ready-fd FD --parent PID`.

It serves on the shared ports (SO_REUSEPORT) with its own event loop and pools, writes
"ready" on the pipe once it serves, and drains on SIGTERM or SIGINT like a single-process
server. The supervisor has already applied the migrations, started any embedded service and
checked the connection budget, and hands what it resolved over in the environment
(DATABASE_URL, REDIS_URL or KAFKA_BROKERS of embedded services; GRPC_PORT, APP_PORT,
OPS_PORT, DB_POOL_SIZE; PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Callable

from server import event_loop, logs
from server.app import PaymentApplication
from server.cli import load_settings
from server.config import Settings

log = logging.getLogger("payments.worker")

PR_SET_PDEATHSIG = 1


async def serve_until_signalled(app: PaymentApplication, on_started: Callable[[], None]) -> None:
    """Start, report, serve until SIGTERM or SIGINT, then drain (health NOT_SERVING,
    in-flight calls finish). A signal during the start stops the server once it started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await app.start()
    on_started()
    event_loop.settle_heap()
    await stop.wait()
    log.info("shutting down: draining in-flight calls")
    await app.stop()


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM (a drain) when the supervisor dies, even by SIGKILL; no orphan keeps
    serving on the shared ports."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        raise SystemExit("the supervisor is gone")


async def _serve(settings: Settings, ready_fd: int) -> None:
    redis_url = settings.redis_url_value() if settings.redis_configured else None
    app = PaymentApplication(
        settings, settings.database_url(), redis_url=redis_url, reuse_port=True
    )

    def ready() -> None:
        # The supervisor stopped listening when it is shutting down: this worker then drains
        # at once (its SIGTERM is on the way), nothing to report.
        with contextlib.suppress(BrokenPipeError):
            os.write(ready_fd, f"ready {os.getpid()}\n".encode())
        os.close(ready_fd)
        log.info("worker serving", extra={"grpc_port": app.grpc_port, "rest_port": app.rest_port})

    await serve_until_signalled(app, ready)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.worker")
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    settings = load_settings()
    logs.configure(settings.log_level)
    event_loop.run(_serve(settings, args.ready_fd))


if __name__ == "__main__":
    main()
