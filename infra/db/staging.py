"""The unit of work's connection as its repositories see it: where a payment's save waits.

A payment's save is staged, not executed at once: the commit writes it with the transaction's
side effects (outbox, audit, answer) in one statement (commit_writes.py), and when that is
the transaction's only statement, without BEGIN and COMMIT. Any other statement first writes
what is staged, so statements take effect in the order the code runs them: a refund row after
the operation it refers to, a read after the write before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncConnection


class Statements(Protocol):
    """What a repository needs of its connection."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...


class StagingConnection:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        # Writes what is staged (the payment repository's); set by the unit of work.
        self.flush: Callable[[], Awaitable[None]] | None = None
        self._flushing = False  # the flush's own statements go straight through

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        if self.flush is not None and not self._flushing:
            self._flushing = True
            try:
                await self.flush()
            finally:
                self._flushing = False
        return await self.conn.execute(statement, parameters)
