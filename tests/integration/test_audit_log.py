"""The audit_log table in real PostgreSQL: append-only for every role, read and append only for
DB_APP_ROLE, one unbroken chain under concurrent writers, and tampering (by someone who can
switch the triggers off) found by the verifier and by `payment-service audit verify`.

Entries are chained by the linker after their commit (tests/integration/test_audit_linker.py
tests it on its own): these tests link what they wrote before looking at the chain."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor, ActorKind
from domain.audit_chain import ChainBreak, verify_chain, verify_pending
from infra.db.audit import SqlAuditReader
from infra.db.audit_linker import SqlAuditLinker
from infra.db.engine import make_engine
from infra.db.uow import SqlUnitOfWork
from server.migrate import upgrade_to_head
from tests.support import databases
from tests.support.audit import chained_trail, link_all
from tests.support.encryption import sealer_for
from tests.support.wire import RENDER

ROOT = Path(__file__).resolve().parents[2]
# Switching the triggers back on as the migration left them (ENABLE ALWAYS has no "USER").
ENABLE_TRIGGERS = [
    f"ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_{operation}"
    for operation in ("update", "delete", "truncate")
]
ENABLE_PENDING_TRIGGERS = [
    f"ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_no_{operation}"
    for operation in ("update", "delete", "truncate")
]
ADMIN = Actor(ActorKind.USER, "admin-1", frozenset({"admin"}), "req-admin", "ipv4:10.0.0.9:1")


async def append_rows(
    engine: AsyncEngine, count: int, tag: str = "", *, link: bool = True
) -> list[str]:
    """`count` committed rows, one transaction each, chained unless `link` is false; their
    resource ids."""
    ids = [f"{tag}{uuid.uuid4()}" for _ in range(count)]
    for resource_id in ids:
        uow = SqlUnitOfWork(engine, sealer_for(), RENDER, ADMIN)
        async with uow:
            uow.fact(
                "admin.fraud_review.approve", "payment", resource_id, after={"status": "AUTHORIZED"}
            )
            await uow.commit()
    if link:
        await link_all(engine)
    return ids


async def whole_chain(engine: AsyncEngine) -> tuple[int, ChainBreak | None]:
    verifier, broken = await verify_chain(SqlAuditReader(engine, batch_size=7).in_order())
    return verifier.count, broken


@pytest.fixture
def audit_database(admin_database_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a migrated database of this test's own (tampering must not reach
    the session's database)."""
    with databases.migrated_database(admin_database_url, "payments_audit") as url:
        yield url


# --- append-only ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'edited'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        # A superuser's trick that silences ordinary triggers, not these (ENABLE ALWAYS).
        "SET LOCAL session_replication_role = replica; DELETE FROM audit_log",
    ],
)
async def test_the_application_connection_cannot_change_or_remove_rows(
    engine: AsyncEngine, statement: str
) -> None:
    [resource_id] = await append_rows(engine, 1)
    with pytest.raises(DBAPIError) as refused:
        async with engine.begin() as conn:
            for part in statement.split(";"):
                await conn.execute(text(part))
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    assert "audit_log is append-only" in str(refused.value)
    [row] = await chained_trail(engine, "payment", resource_id)
    assert row.entry.reason is None


def test_db_app_role_may_read_and_append_but_not_change(
    admin_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"payments_app_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_database_url, f'CREATE ROLE "{role}" LOGIN'))
    name = databases.create_database(admin_database_url, prefix="payments_audit_role")
    owner_url = databases.with_database(admin_database_url, name)
    try:
        monkeypatch.setenv("DB_APP_ROLE", role)
        upgrade_to_head(databases.sqlalchemy_url(owner_url))
        app_url = owner_url.replace("//postgres@", f"//{role}@", 1)
        assert app_url != owner_url
        asyncio.run(_as_app_role(databases.sqlalchemy_url(app_url)))
    finally:
        databases.drop_database(admin_database_url, name)
        asyncio.run(_admin(admin_database_url, f'DROP ROLE IF EXISTS "{role}"'))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _as_app_role(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        await append_rows(engine, 2)  # INSERT is granted; it links through audit_link()
        assert (await whole_chain(engine)) == (2, None)
        await append_rows(engine, 1, link=False)
        assert await SqlAuditReader(engine).pending_count() == 1  # SELECT: readers list it
        for statement in ("UPDATE audit_pending SET payload = 'x'", "DELETE FROM audit_pending",
                          "TRUNCATE audit_pending", "UPDATE audit_linker_lease SET holder = 'x'",
                          "SELECT audit_link_rows(0, 1)"):  # fmt: skip
            with pytest.raises(DBAPIError, match="permission denied"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log"):  # fmt: skip
            with pytest.raises(DBAPIError) as refused:
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
            # Refused by the privileges already, before any trigger runs.
            assert "permission denied for table audit_log" in str(refused.value)
        # Rows reach audit_log only through the chaining trigger, never written directly.
        with pytest.raises(DBAPIError, match="permission denied for table audit_log"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO audit_log (seq) VALUES (1000)"))
    finally:
        await engine.dispose()


async def test_entries_are_chained_after_commit_and_dropped_on_rollback(
    engine: AsyncEngine,
) -> None:
    uow = SqlUnitOfWork(engine, sealer_for(), RENDER, ADMIN)
    async with uow:
        uow.fact("admin.note.add", "payment", "rolled-back")
    async with uow:
        for n in range(3):  # several entries of one transaction keep their order
            uow.fact("admin.note.add", "payment", "committed", after={"n": n})
        await uow.commit()
    await link_all(engine)
    reader = SqlAuditReader(engine)
    assert await reader.for_resource("payment", "rolled-back") == []
    rows = await chained_trail(engine, "payment", "committed")
    assert [(r.entry.after or {}).get("n") for r in rows] == [0, 1, 2]
    assert [r.seq for r in rows] == [rows[0].seq, rows[0].seq + 1, rows[0].seq + 2]
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:2]]
    async with engine.connect() as conn:  # the staging table only holds unchained entries
        assert (await conn.execute(text("SELECT count(*) FROM audit_pending"))).scalar() == 0


# --- the chain under concurrency -------------------------------------------------------------
async def test_concurrent_writers_make_one_unbroken_chain(engine: AsyncEngine) -> None:
    writers = [append_rows(engine, 3, tag=f"w{n}-", link=False) for n in range(30)]
    written = [rid for ids in await asyncio.gather(*writers) for rid in ids]
    await link_all(engine)
    count, broken = await whole_chain(engine)
    assert broken is None
    seqs = [(await chained_trail(engine, "payment", rid))[0].seq for rid in written]
    assert len(set(seqs)) == len(written) == 90
    assert max(seqs) <= count


# --- tampering -------------------------------------------------------------------------------
SWAP_HASHES = (
    "UPDATE audit_log SET hash = CASE seq WHEN 3 THEN (SELECT hash FROM audit_log WHERE seq = 4)"
    " ELSE (SELECT hash FROM audit_log WHERE seq = 3) END WHERE seq IN (3, 4)"
)
SWAP_ROWS = (
    "UPDATE audit_log SET seq = -3 WHERE seq = 3",
    "UPDATE audit_log SET seq = 3 WHERE seq = 4",
    "UPDATE audit_log SET seq = 4 WHERE seq = -3",
)
FORGED = (
    "INSERT INTO audit_log SELECT 7, gen_random_uuid(), now(), 'user', 'mallory',"
    " 'payment.refund', 'payment', 'p', 'r', 'o', 'success', NULL, NULL, NULL,"
    " (SELECT hash FROM audit_log WHERE seq = 6), repeat('a', 64)"
)


@pytest.mark.parametrize(
    ("statements", "bad_seq", "problem"),
    [
        (["UPDATE audit_log SET after = '{\"status\": \"REFUNDED\"}' WHERE seq = 3"], 3,
         "modified"),
        (["UPDATE audit_log SET occurred_at = occurred_at + interval '1 day' WHERE seq = 2"], 2,
         "modified"),
        (["DELETE FROM audit_log WHERE seq = 3"], 4, "missing"),
        ([SWAP_HASHES], 3, "modified"),
        (list(SWAP_ROWS), 3, "prev_hash"),
        ([FORGED], 7, "modified"),
    ],
    ids=["edited-after", "edited-time", "deleted", "swapped-hashes", "reordered", "inserted"],
)  # fmt: skip
async def test_tampering_is_found_at_the_first_bad_row(
    audit_database: str, statements: list[str], bad_seq: int, problem: str
) -> None:
    engine = make_engine(audit_database, pool_size=1)
    try:
        await append_rows(engine, 6)
        async with engine.connect() as conn:
            tx = await conn.begin()
            # Only DDL gets past the triggers; rolled back with the rest below.
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            for statement in statements:
                await conn.execute(text(statement))
            result = await conn.execute(text("SELECT seq, id::text FROM audit_log"))
            ids: dict[int, str] = {seq: id_ for seq, id_ in result.all()}
            _, broken = await verify_chain(SqlAuditReader(conn, batch_size=4).in_order())
            await tx.rollback()
        assert broken is not None
        assert (broken.seq, broken.id) == (bad_seq, ids[bad_seq])
        assert problem in broken.problem
        assert (await whole_chain(engine)) == (6, None)  # untouched once rolled back
    finally:
        await engine.dispose()


# An entry waiting for the linker is not in the chain yet: it is its payload, and the content
# hash taken when it was written is what shows an edit. The linker refuses to chain an entry
# that does not hold, so the chain never vouches for edited contents.
@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_pending SET payload = replace(payload, 'AUTHORIZED', 'REFUNDED')"
        " WHERE payload LIKE :id",
        "UPDATE audit_pending SET content_hash = repeat('a', 64) WHERE payload LIKE :id",
    ],
    ids=["edited-payload", "replaced-hash"],
)
async def test_tampering_with_a_pending_entry_is_found_and_never_chained(
    audit_database: str, edit: str
) -> None:
    engine = make_engine(audit_database, pool_size=1)
    try:
        await append_rows(engine, 3)
        await append_rows(engine, 2, link=False)
        reader = SqlAuditReader(engine)
        [first, second] = [row.entry.id async for row in reader.pending()]
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_pending DISABLE TRIGGER USER"))
            edited = await conn.execute(text(edit), {"id": f"%{second}%"})
            assert edited.rowcount == 1
            for statement in ENABLE_PENDING_TRIGGERS:
                await conn.execute(text(statement))
        checked, broken = await verify_pending(reader.pending())
        assert broken is not None and checked == 1
        assert (broken.seq, broken.id) == (0, second) and "modified" in broken.problem
        assert str(broken).startswith(f"pending entry id={second}:")
        # Nothing of the batch is chained; the entry stays pending, and found.
        with pytest.raises(DBAPIError, match=f"audit entry {second} .* was altered"):
            await SqlAuditLinker(engine).link_batch()
        assert (await whole_chain(engine)) == (3, None)
        assert [row.entry.id async for row in reader.pending()] == [first, second]
    finally:
        await engine.dispose()


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "audit", *args,
        cwd=ROOT,
        env=env | {"DATABASE_URL": database_url, "APP_ENV": "test", "LOG_LEVEL": "warning"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_audit_verify_command_names_the_first_bad_row(audit_database: str) -> None:
    engine = make_engine(audit_database, pool_size=1)
    try:
        code, out, _ = await _cli(audit_database, "verify")
        assert (code, out.strip()) == (0, "audit trail intact: 0 rows (empty)")
        resource_ids = await append_rows(engine, 5)
        code, out, err = await _cli(audit_database, "verify", "--batch-size", "2")
        assert code == 0, err
        assert "audit trail intact: 5 rows" in out
        head = out.strip().splitlines()[-1].removeprefix("head: ")
        seq, digest = head.split(":")
        assert seq == "5" and len(digest) == 64

        code, out, _ = await _cli(audit_database, "tail", "-n", "2")
        assert code == 0 and len(out.strip().splitlines()) == 2 and head.split(":")[1] in out
        code, out, _ = await _cli(audit_database, "show", f"payment:{resource_ids[1]}")
        [shown] = [json.loads(line) for line in out.strip().splitlines()]
        assert (code, shown["seq"], shown["actor"]["subject"]) == (0, 2, "admin-1")

        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            await conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))  # cut the tail
            await conn.execute(text("UPDATE audit_log SET reason = 'x' WHERE seq = 3"))
            for statement in ENABLE_TRIGGERS:
                await conn.execute(text(statement))
            third = (await conn.execute(text("SELECT id FROM audit_log WHERE seq = 3"))).scalar()
        code, out, err = await _cli(audit_database, "verify")
        assert code == 1
        assert f"row seq=3 id={third}" in err and "modified" in err
        assert "rows verified before it: 2" in err

        async with engine.begin() as conn:  # undo the edit: only the cut tail remains
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            await conn.execute(text("UPDATE audit_log SET reason = NULL WHERE seq = 3"))
            for statement in ENABLE_TRIGGERS:
                await conn.execute(text(statement))
        assert (await _cli(audit_database, "verify"))[0] == 0  # a cut tail looks intact...
        code, _, err = await _cli(audit_database, "verify", "--expect", head)
        assert code == 1 and "row seq=5" in err and "removed from the end" in err  # ...not here

        # Entries waiting for the linker are checked too, and counted.
        [waiting] = await append_rows(engine, 1, link=False)
        code, out, err = await _cli(audit_database, "verify")
        assert code == 0, err
        assert "pending: 1 entries not linked yet" in out
        code, out, _ = await _cli(audit_database, "show", f"payment:{waiting}")
        [shown] = [json.loads(line) for line in out.strip().splitlines()]
        assert (code, shown["seq"], shown["linked"], shown["hash"]) == (0, None, False, None)
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_pending DISABLE TRIGGER USER"))
            await conn.execute(
                text(
                    "UPDATE audit_pending SET payload = replace(payload, 'admin-1', 'mallory')"
                    " WHERE payload LIKE :r"
                ),
                {"r": f"%{waiting}%"},
            )
            for statement in ENABLE_PENDING_TRIGGERS:
                await conn.execute(text(statement))
            pending_id = (
                await conn.execute(text("SELECT payload::jsonb ->> 'id' FROM audit_pending"))
            ).scalar()
        code, out, err = await _cli(audit_database, "verify")
        assert code == 1
        assert f"pending entry id={pending_id}" in err and "modified" in err
    finally:
        await engine.dispose()
