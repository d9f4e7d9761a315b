"""Engine construction and connection-failure detection."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from domain.errors import StorageUnavailable


def make_engine(
    url: str,
    *,
    pool_size: int = 20,
    echo: bool = False,
    ssl: ssl_module.SSLContext | str | None = None,
) -> AsyncEngine:
    """`ssl`: asyncpg's, an SSLContext (TLS required, verified as the context says) or an
    sslmode name ("prefer" ...); None leaves the driver's default."""
    tls: dict[str, object] = {} if ssl is None else {"ssl": ssl}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        # Error messages must not carry statement parameters (tokens, personal data).
        hide_parameters=True,
        echo=echo,
        # Statements never wait forever on a lock or a dead server.
        connect_args={"timeout": 5, "server_settings": {"lock_timeout": "10s"}, **tls},
    )


# SQLSTATE classes and codes meaning "the server cannot take you now", not "your query is
# wrong": connection exceptions, too many connections, starting up or shutting down.
UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def is_connection_failure(exc: BaseException) -> bool:
    """True when the error says the database is unreachable, not that the query was wrong."""
    if isinstance(exc, (ConnectionError, OSError, TimeoutError, PoolTimeout)):
        return True  # PoolTimeout: every pooled connection busy for pool_timeout - overload
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES):
        return True
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@asynccontextmanager
async def storage_errors() -> AsyncIterator[None]:
    """Turns "the database is unreachable" into the domain's StorageUnavailable."""
    try:
        yield
    except Exception as exc:
        if is_connection_failure(exc):
            raise StorageUnavailable("the database is unreachable") from exc
        raise
