"""The audit chain's linker: moves committed entries from audit_pending into the hash chain,
one batch per call of the database function `audit_link` (migration 0017): the lease check,
the horizon, the chaining and the move happen in one round trip and one transaction.

Any number of linkers may run (one per worker of every replica): the one holding the lease
links, the others' calls return at once. The holder renews the lease with every batch; when it
dies its lease expires and the next linker to call takes over; when it stops it hands the
lease back (`release`).
"""

from __future__ import annotations

import os
import socket
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LINK = text("SELECT audit_link(:holder, :lease_seconds, :max_rows)")
RELEASE = text("SELECT audit_link_release(:holder)")
NOT_THE_HOLDER = -1


def linker_name() -> str:
    """This linker's name in the lease row: host and process to tell an operator where it
    runs, a random part so that two linkers are never taken for one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SqlAuditLinker:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease_seconds: float = 5.0,
        batch_size: int = 1000,
        name: str | None = None,
    ) -> None:
        self._engine = engine
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self.name = name or linker_name()

    async def link_batch(self) -> int | None:
        """Links up to one batch; the number linked, None when another linker holds the
        lease."""
        async with self._engine.begin() as conn:
            linked = (
                await conn.execute(
                    LINK,
                    {
                        "holder": self.name,
                        "lease_seconds": self._lease_seconds,
                        "max_rows": self._batch_size,
                    },
                )
            ).scalar_one()
        return None if linked == NOT_THE_HOLDER else int(linked)

    async def catch_up(self, max_batches: int = 20) -> int | None:
        """Batch after batch while they come back full (a backlog), at most `max_batches`:
        the number linked, None when another linker holds the lease."""
        total = 0
        for _ in range(max_batches):
            linked = await self.link_batch()
            if linked is None:
                return None if total == 0 else total
            total += linked
            if linked < self._batch_size:
                break
        return total

    async def release(self) -> bool:
        """Hands the lease back if this linker holds it (another takes over at once)."""
        async with self._engine.begin() as conn:
            released = (await conn.execute(RELEASE, {"holder": self.name})).scalar()
        return bool(released)
