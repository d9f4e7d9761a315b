"""Migration 0019 adds the settlement columns (payments, transactions, refunds) and nothing
else; its downgrade removes them and leaves 0018's schema as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command

from server.migrate import alembic_config
from tests.integration.test_migration_0018 import _schema
from tests.support import databases


@pytest.fixture
def database_at_0018(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_0019", "0018") as url:
        yield url


def test_up_and_down(database_at_0018: str) -> None:
    config = alembic_config(database_at_0018)
    before = _schema(database_at_0018)
    command.upgrade(config, "0019")
    after = _schema(database_at_0018)
    added = after - before
    assert {(table, column) for table, column, _ in added} == {
        ("payments", "settlement_currency"),
        ("payments", "settlement_amount_minor"),
        ("payments", "exchange_rate"),
        ("payments", "exchange_rate_source"),
        ("payments", "exchange_rate_as_of"),
        ("payments", "fx_markup_bps"),
        ("payments", "fx_quote_id"),
        ("payments", "captured_settlement_minor"),
        ("payments", "refunded_settlement_minor"),
        ("transactions", "settlement_amount_minor"),
        ("transactions", "settlement_currency"),
        ("refunds", "settlement_amount_minor"),
        ("refunds", "settlement_currency"),
    }
    assert ("payments", "exchange_rate", "numeric") in added
    assert before <= after
    command.downgrade(config, "0018")
    assert _schema(database_at_0018) == before
    command.upgrade(config, "0019")
    assert _schema(database_at_0018) == after
