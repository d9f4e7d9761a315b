"""infra/db/driver.py: a statement on asyncpg directly keeps what the normal path gives -
the transaction, SQLAlchemy's errors, the engine's listeners, a dead connection thrown away."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.gateway import GatewayOutcome
from infra.db import driver
from infra.db.driver import DriverQuery, DriverStatement
from infra.db.engine import is_connection_failure
from infra.db.repositories import PAYMENT_WITH_TRANSACTIONS
from infra.db.uow import SqlUnitOfWork
from tests.integration.test_repositories import new_id, new_payment, now, store
from tests.support.encryption import sealer_for
from tests.support.wire import RENDER

INSERT = text(
    "INSERT INTO consumed_events (event_id, topic, received_at)"
    " VALUES (:event_id, :topic, now()) RETURNING event_id"
)


def statement(engine: AsyncEngine) -> DriverStatement:
    return DriverStatement(INSERT, engine.dialect)


async def consumed(engine: AsyncEngine, event_id: str) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM consumed_events WHERE event_id = :id"), {"id": event_id}
        )
        return int(found.scalar_one())


async def test_a_statement_belongs_to_the_connection_transaction(engine: AsyncEngine) -> None:
    kept, undone = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.connect() as conn:
        rows = await driver.fetch(conn, statement(engine), {"event_id": kept, "topic": "t"})
        assert [row[0] for row in rows] == [kept]
        await conn.commit()
        await driver.fetch(conn, statement(engine), {"event_id": undone, "topic": "t"})
        await conn.rollback()
    assert (await consumed(engine, kept), await consumed(engine, undone)) == (1, 0)


async def test_the_engine_listeners_see_each_statement(engine: AsyncEngine) -> None:
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        async with engine.connect() as conn:
            await driver.fetch(
                conn, statement(engine), {"event_id": str(uuid.uuid4()), "topic": "t"}
            )
            await conn.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)
    assert seen == [statement(engine).sql]


async def test_a_refused_statement_raises_as_sqlalchemy_does_without_its_parameters(
    engine: AsyncEngine,
) -> None:
    event_id = str(uuid.uuid4())
    async with engine.connect() as conn:
        await driver.fetch(conn, statement(engine), {"event_id": event_id, "topic": "secret-topic"})
        with pytest.raises(IntegrityError) as refused:
            await driver.fetch(
                conn, statement(engine), {"event_id": event_id, "topic": "secret-topic"}
            )
        await conn.rollback()
    assert "secret-topic" not in str(refused.value)
    assert not is_connection_failure(refused.value)


async def test_a_connection_gone_is_unavailability_and_is_never_used_again(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await conn.rollback()
        async with engine.connect() as killer:
            await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Exception) as gone:  # which exception is the driver's business
            await driver.fetch(
                conn, statement(engine), {"event_id": str(uuid.uuid4()), "topic": "t"}
            )
        assert is_connection_failure(gone.value)
        assert conn.invalidated


async def test_a_query_gives_the_rows_sqlalchemy_would(engine: AsyncEngine) -> None:
    """The payment read, both ways: every column of every row equal, value and type - for a
    payment with a transaction, and one without (its transaction columns NULL)."""
    bare, authorized = new_payment(), new_payment()
    await store(engine, bare)
    await store(engine, authorized)
    async with SqlUnitOfWork(engine, sealer_for(), RENDER) as uow:
        loaded = await uow.payments.get(authorized.id)
        txn = loaded.begin_authorization(transaction_id=new_id(), now=now())
        answer = GatewayOutcome.succeeded(f"pi_{new_id()}")
        loaded.record_authorization(txn.id, answer, now(), new_id())
        await uow.payments.save(loaded)
        await uow.commit()
    query = DriverQuery(PAYMENT_WITH_TRANSACTIONS, engine.dialect)
    for payment in (bare, authorized):
        async with engine.connect() as conn:
            params = {"payment_id": payment.id}
            result = await conn.execute(PAYMENT_WITH_TRANSACTIONS, params)
            expected = [dict(row) for row in result.mappings()]
            got = await driver.fetch_mappings(conn, query, params)
            await conn.rollback()
        assert len(got) == 1
        assert got == expected
        assert [type(v) for v in got[0].values()] == [type(v) for v in expected[0].values()]
