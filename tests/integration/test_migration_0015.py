"""Migration 0015 on a database holding amounts counted by CLDR: it refuses to run over rows
whose minor unit is ambiguous until the operator declares it, then rescales them exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command

from server.migrate import alembic_config
from tests.support import databases

NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def database_at_0014(admin_database_url: str) -> Iterator[tuple[str, str]]:
    with databases.migrated_database(admin_database_url, "payments_0015", "0014") as url:
        yield url.replace("postgresql+asyncpg://", "postgresql://"), url


async def insert_captured(libpq: str, currency: str, amount: int, refunded: int) -> str:
    """A captured payment with its capture, a refund and a dispute, all in `currency`."""
    payment_id, txn_id = str(uuid.uuid4()), str(uuid.uuid4())
    conn = await asyncpg.connect(libpq)
    try:
        await conn.execute(
            "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
            " payment_method_type, gateway, authorized_minor, captured_minor, refunded_minor,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'PARTIALLY_REFUNDED',"
            " 'CREDIT_CARD', 'SIMULATOR', $4, $4, $6, $7, $7)",
            payment_id, str(uuid.uuid4()), str(uuid.uuid4()), amount, currency, refunded, NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO transactions (id, payment_id, type, status, amount_minor, currency,"
            " idempotency_key, created_at) VALUES ($1, $2, 'REFUND', 'SUCCEEDED', $3, $4, $5,"
            " $6)",
            txn_id, payment_id, refunded, currency, f"k-{txn_id}", NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refunds (id, payment_id, transaction_id, amount_minor, currency,"
            " status, requested_at, created_at) VALUES ($1, $2, $3, $4, $5, 'PROCESSED', $6,"
            " $6)",
            str(uuid.uuid4()), payment_id, txn_id, refunded, currency, NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO disputes (id, payment_id, gateway, gateway_dispute_id, amount_minor,"
            " currency, status, created_at, updated_at)"
            " VALUES ($1, $2, 'STRIPE', $3, $4, $5, 'OPENED', $6, $6)",
            str(uuid.uuid4()), payment_id, f"dp_{txn_id}", amount, currency, NOW,
        )  # fmt: skip
    finally:
        await conn.close()
    return payment_id


async def amounts(libpq: str, payment_id: str) -> tuple[int, ...]:
    conn = await asyncpg.connect(libpq)
    try:
        payment = await conn.fetchrow(
            "SELECT amount_minor, authorized_minor, captured_minor, refunded_minor"
            " FROM payments WHERE id = $1",
            payment_id,
        )
        children = [
            await conn.fetchval(
                f"SELECT amount_minor FROM {table} WHERE payment_id = $1", payment_id
            )
            for table in ("transactions", "refunds", "disputes")
        ]
    finally:
        await conn.close()
    assert payment is not None
    return (*payment, *children)


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


async def revision(libpq: str) -> str:
    conn = await asyncpg.connect(libpq)
    try:
        return str(await conn.fetchval("SELECT version_num FROM alembic_version"))
    finally:
        await conn.close()


async def test_ambiguous_rows_stop_the_upgrade_until_declared_then_are_rescaled(
    database_at_0014: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    libpq, url = database_at_0014
    huf = await insert_captured(libpq, "HUF", 1500, 200)  # counted by Babel 2.19: 1,500 HUF
    iqd = await insert_captured(libpq, "IQD", 7, 2)  # CLDR: no decimals; ISO: three
    rsd = await insert_captured(libpq, "RSD", 1050, 50)  # Babel 2.19: 10.50 RSD, as ISO
    eur = await insert_captured(libpq, "EUR", 1099, 99)  # never ambiguous

    monkeypatch.delenv("MINOR_UNITS_DECLARED", raising=False)
    with pytest.raises(RuntimeError) as refused:
        await asyncio.to_thread(upgrade, url)
    message = str(refused.value)
    assert "HUF: 1 payment(s)" in message and "IQD: 1 payment(s)" in message
    assert "RSD: 1 payment(s)" in message and "EUR" not in message
    assert "MINOR_UNITS_DECLARED" in message
    assert await revision(libpq) == "0014"  # nothing half-done
    assert await amounts(libpq, huf) == (1500, 1500, 1500, 200, 200, 200, 1500)

    monkeypatch.setenv("MINOR_UNITS_DECLARED", "HUF=0,IQD=0")  # RSD still undeclared
    with pytest.raises(RuntimeError, match="RSD: 1 payment"):
        await asyncio.to_thread(upgrade, url)

    monkeypatch.setenv("MINOR_UNITS_DECLARED", "HUF=0, IQD=0, RSD=2")
    await asyncio.to_thread(upgrade, url)

    assert await amounts(libpq, huf) == (150000, 150000, 150000, 20000, 20000, 20000, 150000)
    assert await amounts(libpq, iqd) == (7000, 7000, 7000, 2000, 2000, 2000, 7000)
    assert await amounts(libpq, rsd) == (1050, 1050, 1050, 50, 50, 50, 1050)
    assert await amounts(libpq, eur) == (1099, 1099, 1099, 99, 99, 99, 1099)


@pytest.mark.parametrize("declaration", ["HUF=3", "HUF=1", "HUF", "HUF=two"])
async def test_a_declaration_that_cannot_be_right_is_refused(
    database_at_0014: tuple[str, str], monkeypatch: pytest.MonkeyPatch, declaration: str
) -> None:
    libpq, url = database_at_0014
    huf = await insert_captured(libpq, "HUF", 1500, 200)
    monkeypatch.setenv("MINOR_UNITS_DECLARED", declaration)

    with pytest.raises(RuntimeError):
        await asyncio.to_thread(upgrade, url)

    assert await revision(libpq) == "0014"
    assert await amounts(libpq, huf) == (1500, 1500, 1500, 200, 200, 200, 1500)


async def test_a_database_without_ambiguous_rows_upgrades_without_a_declaration(
    database_at_0014: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    libpq, url = database_at_0014
    eur = await insert_captured(libpq, "EUR", 1099, 99)
    monkeypatch.delenv("MINOR_UNITS_DECLARED", raising=False)

    await asyncio.to_thread(upgrade, url)

    assert await revision(libpq) != "0014"
    assert await amounts(libpq, eur) == (1099, 1099, 1099, 99, 99, 99, 1099)
