"""A lease in PostgreSQL that at most one process holds at a time: a session-level advisory
lock, taken on a connection of its own and kept for as long as that session lives.

Why an advisory lock rather than a lease row: PostgreSQL releases it the moment the holder's
session ends, so a holder killed by SIGKILL or the OOM killer (its socket closes) frees it at
once, with no expiry to wait out and no clock to trust. A holder that stops answering without
closing its socket (frozen, its host gone) is cut off by `idle_session_timeout`, which the
holder keeps from firing by confirming the lease more often than that. PostgreSQL before 14
has no such timeout: there only TCP keepalives notice a vanished host.

The connection must be a real session: not through a pooler in transaction mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("payments.lease")

_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))")
_IDLE_TIMEOUT = text("SELECT set_config('idle_session_timeout', :ms, false)")
_NAME = text("SELECT set_config('application_name', :name, false)")
_CONFIRM = text("SELECT 1")


class AdvisoryLease:
    """`try_acquire` takes the lease if it is free; `confirm` raises once it is lost."""

    def __init__(self, engine: AsyncEngine, name: str, expiry_seconds: float) -> None:
        self._engine = engine
        self.key = f"payment-service/background/{name}"
        self._expiry_ms = str(int(expiry_seconds * 1000))
        self._conn: AsyncConnection | None = None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            # Statements outside a transaction: idle_session_timeout spares an idle
            # transaction, and the lock must outlive any transaction.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
            # Operators find the holder in pg_stat_activity.
            await conn.execute(_NAME, {"name": f"payment-service lease pid {os.getpid()}"})
            try:
                await conn.execute(_IDLE_TIMEOUT, {"ms": self._expiry_ms})
            except Exception as exc:  # PostgreSQL before 14
                log.warning("no idle_session_timeout (%s): a vanished holder is only noticed "
                            "by TCP keepalives", type(exc).__name__)  # fmt: skip
        return self._conn

    async def try_acquire(self) -> bool:
        conn = await self._connection()
        return bool((await conn.execute(_TRY_LOCK, {"key": self.key})).scalar_one())

    async def confirm(self) -> None:
        """A live session still holds its session lock: a failing query means it is gone
        (the server ended the session, or the network did)."""
        await (await self._connection()).execute(_CONFIRM)

    async def release(self) -> None:
        """Ends the session, which releases the lock (also when the lock was already lost)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            # Not back into the pool: a pooled session would keep holding the lock.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.invalidate(), 5)
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await self.release()
        await self._engine.dispose()
