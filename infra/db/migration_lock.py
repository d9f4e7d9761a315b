"""One migration at a time per database: a session-level advisory lock held around
`alembic upgrade` (migrations/env.py), so that replicas started together (`serve --migrate`
in each, or a migration Job beside them) never race. The second waits for the first, then
finds the schema at head and has nothing to do.

Session-level, not transaction-level: alembic commits per run (or per migration), and the lock
must outlive those commits; PostgreSQL releases it anyway if the migrating process dies.

Waited for by trying, not by blocking: a process blocked in `pg_advisory_lock` is inside a
statement, with a snapshot, and `CREATE INDEX CONCURRENTLY` (migration 0021) waits for every
snapshot older than its own to go - including that one, which waits for the lock the migrating
process holds: a deadlock. Between tries the waiting process holds no transaction at all."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

# hashtextextended(MIGRATION_LOCK_NAME, 0) is the lock's key (readable in pg_locks.objid).
MIGRATION_LOCK_NAME = "payment-service:alembic-migrations"
_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))")


# Between tries: a migration takes seconds, the wait is at most this much longer.
RETRY_SECONDS = 0.25
log = logging.getLogger("payments.migrations")


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Held on `connection` for the block (which runs outside any transaction of ours)."""
    waited = False
    while True:
        got = connection.execute(_TRY_LOCK, {"name": MIGRATION_LOCK_NAME}).scalar()
        connection.commit()  # ends the statement's implicit transaction; a session lock stays
        if got:
            break
        if not waited:
            log.warning("waiting for another migration to finish (lock %s)", MIGRATION_LOCK_NAME)
            waited = True
        time.sleep(RETRY_SECONDS)  # no transaction open: see above
    try:
        yield
    finally:
        connection.execute(_UNLOCK, {"name": MIGRATION_LOCK_NAME})
        connection.commit()
