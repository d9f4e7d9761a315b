"""Migration 0016, the outbox in published form, over unpublished rows: rows written before
it (payload only) stay publishable after the upgrade, rows written after it (value and
headers only) get their payload back on a downgrade, and nothing is lost either way."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import DomainEvent
from infra.db import commit_writes
from infra.db.commit_writes import CommitWrites
from infra.db.engine import make_engine
from infra.db.outbox import legacy_event
from infra.db.tables import outbox
from infra.messaging.relay import OutboxMessage
from server.migrate import alembic_config
from tests.support import databases
from tests.support.event_samples import fresh_events as new_events
from tests.support.legacy_outbox import _camel, legacy_payload
from tests.support.wire import RENDER


@pytest.fixture
def database_at_0015(admin_database_url: str) -> Iterator[tuple[str, str]]:
    """(libpq URL, SQLAlchemy URL) of a database migrated to 0015."""
    with databases.migrated_database(admin_database_url, "payments_0016", "0015") as url:
        yield url.replace("postgresql+asyncpg://", "postgresql://"), url


@pytest.fixture
async def engine(database_at_0015: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_at_0015[1], pool_size=2)
    yield engine
    await engine.dispose()


async def migrate(url: str, revision: str) -> None:
    config = alembic_config(url)
    if revision == "0015":
        await asyncio.to_thread(command.downgrade, config, revision)
    else:
        await asyncio.to_thread(command.upgrade, config, revision)


async def insert_legacy_rows(libpq: str, events: list[DomainEvent]) -> None:
    """Rows as the release before 0016 wrote them."""
    conn = await asyncpg.connect(libpq)
    try:
        await conn.executemany(
            "INSERT INTO outbox (id, event_type, aggregate_id, message_key, payload, created_at)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
            [
                (e.event_id, e.event_type, e.payment_id, e.order_id,
                 json.dumps(legacy_payload(e)), e.occurred_at)
                for e in events
            ],
        )  # fmt: skip
    finally:
        await conn.close()


# The columns of revision 0015.
BEFORE_0016 = [outbox.c[name] for name in ("id", "event_type", "payload", "published_at")]


async def stored_rows(
    engine: AsyncEngine, events: list[DomainEvent], columns: list[Any] | None = None
) -> dict[str, Any]:
    query = select(*(columns or outbox.c)).where(outbox.c.id.in_([e.event_id for e in events]))
    async with engine.connect() as conn:
        return {row.id: row for row in await conn.execute(query)}


def relayed(row: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    """What the relay publishes for a row."""
    message = OutboxMessage(
        row.id, row.message_key, row.value, row.headers, row.event_type, row.payload
    )
    return message.published_form(RENDER)


def published(event: DomainEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
    wire = RENDER(event)
    return wire.value, wire.kafka_headers()


async def test_rows_written_before_the_upgrade_are_published_as_new_ones_would_be(
    database_at_0015: tuple[str, str], engine: AsyncEngine
) -> None:
    libpq, url = database_at_0015
    events = new_events()
    await insert_legacy_rows(libpq, events)

    await migrate(url, "head")

    rows = await stored_rows(engine, events)
    assert len(rows) == len(events)
    for e in events:
        row = rows[e.event_id]
        assert row.value is None and row.payload == legacy_payload(e)
        assert row.published_at is None
        assert relayed(row) == published(e)


async def test_the_outbox_writes_all_of_a_commits_events_in_one_statement(
    database_at_0015: tuple[str, str], engine: AsyncEngine
) -> None:
    await migrate(database_at_0015[1], "head")
    events = new_events()
    statements: list[tuple[str, bool]] = []

    def seen(_conn: Connection, _cursor: Any, statement: str, _p: Any, _c: Any, many: bool) -> None:
        statements.append((statement, many))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with engine.begin() as conn:
            await commit_writes.write(conn, CommitWrites(events=events, render=RENDER))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)

    assert len(statements) == 1 and "INSERT INTO outbox" in statements[0][0]  # one, for all
    rows = await stored_rows(engine, events)
    for e in events:
        row = rows[e.event_id]
        assert row.payload is None  # the published form only
        assert (row.value, [tuple(pair) for pair in row.headers]) == (
            RENDER(e).value,
            list(RENDER(e).headers),
        )
        assert relayed(row) == published(e)


async def test_a_downgrade_gives_new_rows_the_payload_the_previous_release_reads(
    database_at_0015: tuple[str, str], engine: AsyncEngine
) -> None:
    url = database_at_0015[1]
    await migrate(url, "head")
    unpublished, already_published = new_events(), new_events()
    async with engine.begin() as conn:
        await commit_writes.write(
            conn, CommitWrites(events=unpublished + already_published, render=RENDER)
        )
        ids = [e.event_id for e in already_published]
        await conn.execute(
            update(outbox).where(outbox.c.id.in_(ids)).values(published_at=text("now()"))
        )

    await migrate(url, "0015")

    rows = await stored_rows(engine, unpublished + already_published, BEFORE_0016)
    for e in unpublished + already_published:
        payload = dict(rows[e.event_id].payload)
        # The format the previous release wrote, field for field; the time with a Z.
        written = legacy_payload(e)
        assert datetime.fromisoformat(payload.pop("occurredAt")) == e.occurred_at
        del written["occurredAt"]
        # Other times (payment.dispute_closed's closedAt) keep their published spelling:
        # the same instant.
        for field in dataclasses.fields(e):
            moment = getattr(e, field.name)
            if isinstance(moment, datetime) and field.name != "occurred_at":
                key = _camel(field.name)
                assert datetime.fromisoformat(payload.pop(key)) == moment
                del written[key]
        assert payload == written
    for e in unpublished:
        row = rows[e.event_id]
        assert row.published_at is None
        assert legacy_event(row.event_type, row.payload) == e
        # ...and the relay publishes them (after a new upgrade too) exactly as before.
        assert published(legacy_event(row.event_type, row.payload)) == published(e)

    await migrate(url, "head")
    rows = await stored_rows(engine, unpublished)
    assert all(relayed(rows[e.event_id]) == published(e) for e in unpublished)


async def test_a_row_with_nothing_to_publish_is_refused(
    database_at_0015: tuple[str, str], engine: AsyncEngine
) -> None:
    await migrate(database_at_0015[1], "head")
    [e, *_] = new_events()
    with pytest.raises(IntegrityError, match="ck_outbox_publishable"):
        async with engine.begin() as conn:
            await conn.execute(
                outbox.insert().values(
                    id=e.event_id, event_type=e.event_type, aggregate_id=e.payment_id,
                    message_key=e.order_id, value=RENDER(e).value, created_at=e.occurred_at,
                )
            )  # fmt: skip
