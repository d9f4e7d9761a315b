"""The unit of work's connection as its repositories see it: where a payment's write waits.

A payment's insert or save is staged, not executed at once: the commit writes it with the
transaction's side effects (outbox, audit, answer) in one statement (commit_writes.py), and
when that is the transaction's only statement, without BEGIN and COMMIT. Any other statement
first writes what is staged, so statements take effect in the order the code runs them: a
refund row after the operation it refers to, a read after the write before it.

A plain read (no lock) that comes before anything else runs on its own, in autocommit: under
READ COMMITTED each statement sees its own snapshot whether a transaction holds it or not, and
what is written after it is guarded by the version it read - a transaction around it would
only add a BEGIN and an end. A read-only unit of work is then one round trip per read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.db import driver
from infra.db.driver import DriverQuery

_Rows = TypeVar("_Rows")


class Statements(Protocol):
    """What a repository needs of its connection."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...

    async def read(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """A statement that only reads and locks nothing."""

    async def read_mappings(
        self, query: DriverQuery, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The same for a hot query, on asyncpg directly (driver.py): its rows as mappings."""


class StagingConnection:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        # Writes what is staged (the payment repository's); set by the unit of work.
        self.flush: Callable[[], Awaitable[None]] | None = None
        self._flushing = False  # the flush's own statements go straight through

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        await self._flush_staged()
        return await self.conn.execute(statement, parameters)

    async def read(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """A plain read: alone when no transaction has begun yet (see above)."""
        return await self._read(lambda: self.conn.execute(statement, parameters))

    async def read_mappings(
        self, query: DriverQuery, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        await self._flush_staged()
        if self.conn.in_transaction():
            return await driver.fetch_mappings(self.conn, query, parameters)
        return await driver.fetch_mappings_alone(self.conn, query, parameters)

    async def _read(self, run: Callable[[], Awaitable[_Rows]]) -> _Rows:
        await self._flush_staged()
        conn = self.conn
        if conn.in_transaction():
            return await run()
        transactional = conn.default_isolation_level
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            return await run()  # buffered: usable after
        finally:
            await conn.commit()  # ends what SQLAlchemy began; nothing is sent
            await conn.execution_options(isolation_level=transactional)

    async def _flush_staged(self) -> None:
        if self.flush is not None and not self._flushing:
            self._flushing = True
            try:
                await self.flush()
            finally:
                self._flushing = False
