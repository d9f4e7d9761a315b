"""A database of the test's own, for tests that act on every row of a table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine
from tests.support import databases


@pytest.fixture
def own_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_own") as url:
        yield url


@pytest.fixture
async def own_engine(own_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(own_database_url, pool_size=3)
    yield engine
    await engine.dispose()
