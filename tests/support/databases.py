"""A fresh PostgreSQL database per test session: the machine's server when it is reachable,
else an embedded one. Tests own their data; the database is dropped at the end."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


def admin_url(embedded_dir: Path) -> str:
    """A libpq URL of a database on which we may CREATE DATABASE."""
    url = os.environ.get("TEST_DATABASE_ADMIN_URL", DEFAULT_ADMIN_URL)
    if _reachable(url):
        return url
    from server.embedded import start_embedded_postgres  # noqa: PLC0415 - fallback only

    sqlalchemy_url = start_embedded_postgres(embedded_dir)
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://").replace(
        "/payment_service?", "/postgres?"
    )


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def create_database(admin: str, prefix: str = "payments_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    return name


def drop_database(admin: str, name: str) -> None:
    asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlalchemy_url(libpq_url: str) -> str:
    return libpq_url.replace("postgresql://", "postgresql+asyncpg://", 1)


@contextmanager
def migrated_database(admin: str, prefix: str, revision: str = "head") -> Iterator[str]:
    """A database of its own at `revision`, for tests that act on every row (key rotation,
    retention, migrations of existing data). Yields its SQLAlchemy URL."""
    from alembic import command  # noqa: PLC0415 - only the tests that need one pay for it

    from server.migrate import alembic_config  # noqa: PLC0415

    name = create_database(admin, prefix)
    url = sqlalchemy_url(with_database(admin, name))
    try:
        command.upgrade(alembic_config(url), revision)
        yield url
    finally:
        drop_database(admin, name)
