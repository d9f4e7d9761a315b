"""Alembic environment: async engine (asyncpg), metadata from infra.db.tables."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from infra.db.migration_lock import migration_lock
from infra.db.tables import metadata

config = context.config


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    if url:
        return str(url)
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        from server.config import Settings

        return Settings().database_url()
    raise SystemExit("no database: set DATABASE_URL or DB_HOST (or pass -x url=...)")


def connect_args() -> dict[str, object]:
    """asyncpg options: given by server/migrate.py, else TLS from DB_SSL* like the service."""
    if "connect_args" in config.attributes:
        return dict(config.attributes["connect_args"])
    if os.environ.get("DB_SSLMODE"):
        from server.config import Settings
        from server.transport import database_ssl

        return {"ssl": database_ssl(Settings())}
    return {}


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_locked(connection: Connection) -> None:
    # Replicas migrating at once wait for each other (infra/db/migration_lock.py).
    with migration_lock(connection):
        run_with(connection)


async def run_online() -> None:
    engine = create_async_engine(database_url(), connect_args=connect_args())
    async with engine.connect() as connection:
        await connection.run_sync(run_locked)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
    else:
        asyncio.run(run_online())
