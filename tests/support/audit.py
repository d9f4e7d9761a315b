"""The audit chain in tests: entries are chained after their commit by a linker (the server's
job, or here one of the test's own), so a test that reads seq or hashes waits until what it
wrote is chained. Polls with a deadline, never sleeps blindly."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit_chain import ChainedEntry
from infra.db.audit import SqlAuditReader
from infra.db.audit_linker import SqlAuditLinker
from tests.support.polling import eventually


async def link_all(engine: AsyncEngine, *, within: float = 30.0) -> None:
    """Until nothing is pending: links with a linker of this test's own whenever the lease is
    free, else waits for its holder (a server sharing the database) to link. Hands the lease
    back after."""
    linker = SqlAuditLinker(engine, lease_seconds=2.0)
    reader = SqlAuditReader(engine)

    async def nothing_pending() -> bool:
        await linker.catch_up()
        return await reader.pending_count() == 0

    try:
        await eventually(nothing_pending, within=within)
    finally:
        await linker.release()


async def chained_trail(
    engine: AsyncEngine,
    resource_type: str,
    resource_id: str,
    *,
    link: bool = True,
    within: float = 30.0,
) -> list[ChainedEntry]:
    """The resource's trail once every entry of it is chained: linking too when no linker
    holds the lease (`link`), or only waiting for a running server's linker."""
    linker = SqlAuditLinker(engine, lease_seconds=2.0)
    reader = SqlAuditReader(engine)
    chained: list[ChainedEntry] = []

    async def all_chained() -> bool:
        if link:
            await linker.catch_up()
        rows = await reader.for_resource(resource_type, resource_id)
        chained[:] = [row for row in rows if isinstance(row, ChainedEntry)]
        return len(chained) == len(rows)

    try:
        await eventually(all_chained, within=within)
    finally:
        if link:
            await linker.release()
    return chained
