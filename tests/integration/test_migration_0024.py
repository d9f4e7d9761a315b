"""Migration 0024 on a database holding disputes from before it: the payments get what
their disputes amount to (disputed_minor, dispute_lost_minor, dispute_status), and a payment
never disputed gets nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from server.migrate import alembic_config
from tests.support import databases

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def revision_before_0024() -> str:
    """Whatever 0024 follows (the chain may be re-ordered when branches merge)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x"))
    before = script.get_revision("0024").down_revision
    assert isinstance(before, str)
    return before


@pytest.fixture
def database_before(admin_database_url: str) -> Iterator[tuple[str, str]]:
    before = revision_before_0024()
    with databases.migrated_database(admin_database_url, "payments_0024", before) as url:
        yield url.replace("postgresql+asyncpg://", "postgresql://"), url


async def insert_payment(conn: asyncpg.Connection) -> str:
    payment_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
        " payment_method_type, gateway, authorized_minor, captured_minor, created_at,"
        " updated_at) VALUES ($1, $2, $3, 5000, 'EUR', 'CAPTURED', 'CREDIT_CARD', 'STRIPE',"
        " 5000, 5000, $4, $4)",
        payment_id, str(uuid.uuid4()), str(uuid.uuid4()), NOW,
    )  # fmt: skip
    return payment_id


async def insert_dispute(
    conn: asyncpg.Connection, payment_id: str, amount: int, status: str, closed: datetime | None
) -> None:
    await conn.execute(
        "INSERT INTO disputes (id, payment_id, gateway, gateway_dispute_id, amount_minor,"
        " currency, status, created_at, updated_at, closed_at)"
        " VALUES ($1, $2, 'STRIPE', $3, $4, 'EUR', $5, $6, $7, $7)",
        str(uuid.uuid4()), payment_id, f"dp_{uuid.uuid4()}", amount, status, NOW,
        closed or NOW,
    )  # fmt: skip


async def test_the_payments_get_what_their_disputes_amount_to(
    database_before: tuple[str, str],
) -> None:
    libpq, url = database_before
    conn = await asyncpg.connect(libpq)
    try:
        closed_id, open_id, never_id = [await insert_payment(conn) for _ in range(3)]
        # Lost first, won later: the latest to close gives the status.
        await insert_dispute(conn, closed_id, 1000, "LOST", NOW + timedelta(days=1))
        await insert_dispute(conn, closed_id, 400, "WON", NOW + timedelta(days=2))
        await insert_dispute(conn, open_id, 700, "LOST", NOW + timedelta(days=1))
        await insert_dispute(conn, open_id, 300, "OPENED", None)
    finally:
        await conn.close()

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0024")

    conn = await asyncpg.connect(libpq)
    try:
        rows = {
            str(r["id"]): (r["disputed_minor"], r["dispute_lost_minor"], r["dispute_status"])
            for r in await conn.fetch(
                "SELECT id, disputed_minor, dispute_lost_minor, dispute_status FROM payments"
            )
        }
    finally:
        await conn.close()
    assert rows[closed_id] == (1400, 1000, "WON")
    assert rows[open_id] == (1000, 700, "OPENED")
    assert rows[never_id] == (0, 0, None)
