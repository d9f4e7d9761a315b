"""What counts as "the database is unavailable" (a retryable UNAVAILABLE), not a bug."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from infra.db.engine import is_connection_failure


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["53300", "57P03", "08006", "57P01"])
def test_server_cannot_take_us_now(sqlstate: str) -> None:
    assert is_connection_failure(DBAPIError("SELECT 1", {}, PgError(sqlstate)))


def test_pool_exhaustion_is_overload() -> None:
    assert is_connection_failure(PoolTimeout("QueuePool limit reached"))


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", "22003"])
def test_a_wrong_query_is_not_unavailability(sqlstate: str) -> None:
    assert not is_connection_failure(ProgrammingError("SELECT x", {}, PgError(sqlstate)))
