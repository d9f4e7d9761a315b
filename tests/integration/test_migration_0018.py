"""Migration 0018 adds fx_rates and fx_quotes and nothing else; its downgrade removes them
(with their rows) and leaves 0017's schema as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command

from server.migrate import alembic_config
from tests.support import databases


@pytest.fixture
def database_at_0017(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_0018", "0017") as url:
        yield url


def _schema(url: str) -> set[tuple[str, str, str]]:
    """(table, column, type) of every column of the public schema."""

    async def query() -> set[tuple[str, str, str]]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        finally:
            await conn.close()
        return {(r["table_name"], r["column_name"], r["data_type"]) for r in rows}

    return asyncio.run(query())


def _execute(url: str, statement: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def test_up_and_down(database_at_0017: str) -> None:
    config = alembic_config(database_at_0017)
    before = _schema(database_at_0017)
    command.upgrade(config, "0018")
    after = _schema(database_at_0017)
    added = after - before
    assert {table for table, _, _ in added} == {"fx_rates", "fx_quotes"}
    assert ("fx_rates", "rate", "numeric") in added
    assert before <= after
    _execute(
        database_at_0017,
        "INSERT INTO fx_rates VALUES ('EUR', 'USD', 'ecb', 1.0842, now(), now())",
    )
    command.downgrade(config, "0017")
    assert _schema(database_at_0017) == before
    command.upgrade(config, "0018")  # and again, from the downgraded schema
    assert _schema(database_at_0017) == after
