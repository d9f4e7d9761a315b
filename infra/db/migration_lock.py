"""One migration at a time per database: a session-level advisory lock held around
`alembic upgrade` (migrations/env.py), so that replicas started together (`serve --migrate`
in each, or a migration Job beside them) never race. The second waits for the first, then
finds the schema at head and has nothing to do.

Session-level, not transaction-level: alembic commits per run (or per migration), and the lock
must outlive those commits; PostgreSQL releases it anyway if the migrating process dies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

# hashtextextended(MIGRATION_LOCK_NAME, 0) is the lock's key (readable in pg_locks.objid).
MIGRATION_LOCK_NAME = "payment-service:alembic-migrations"
_LOCK = text("SELECT pg_advisory_lock(hashtextextended(:name, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))")


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Held on `connection` for the block (which runs outside any transaction of ours)."""
    connection.execute(_LOCK, {"name": MIGRATION_LOCK_NAME})
    connection.commit()  # ends the statement's implicit transaction; the session lock stays
    try:
        yield
    finally:
        connection.execute(_UNLOCK, {"name": MIGRATION_LOCK_NAME})
        connection.commit()
