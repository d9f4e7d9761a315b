"""audit linker: entries are chained after commit by one leased linker, not at COMMIT

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07

Until this revision a deferred trigger chained every audited transaction's entries at its
COMMIT under one advisory lock: every audited commit of every replica waited for the one
before it. From now on a writer only inserts its entries into audit_pending (a plain insert,
no lock held, in the transaction of the change: nothing is lost). A pending entry is its
canonical payload (domain/audit_chain.py: every field of the entry, as JSON), the SHA-256 of
that payload (its content hash, taken when it is written), the id of its transaction (`tx`)
and its position: a narrow row under one index, so that writing it costs a transaction
little. One linker at a time, the holder of the lease row, moves committed entries to
audit_log in batches with `audit_link()`, one call per batch, from any replica: it chains
them and spreads each payload into audit_log's columns, work taken off the writers' path.

Stable order, nothing skipped: the linker only takes entries of transactions older than every
transaction still running in this database (the horizon), in (tx, pos) order. Below the
horizon every transaction has ended, so every committed entry there is visible to the linker;
an entry that commits later has a tx at or above the horizon and comes after every entry
linked so far. A transaction's entries stay together and in the order they were written, and a
change committed before another started is linked before it (xids are assigned in that order).

The lease: the row of audit_linker_lease names its holder and when the lease ends. A linker
takes it when it is free or expired and renews it with every batch; the row is locked (SKIP
LOCKED) for the batch, so two linkers never link at the same time, and one that lost its
lease while away (a paused or partitioned process) finds out on its next call, before it
links anything. A dead holder's lease simply expires and another replica takes over.

audit_pending is append-only too: UPDATE and TRUNCATE are refused for every role, DELETE is
allowed only inside audit_link() (which moves the rows it links).
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Chains the pending entries of transactions below `p_horizon` (at most p_max_rows, NULL: all)
# after the head of audit_log. An entry whose payload no longer matches its content hash was
# altered while pending: linking stops there (an error, the chain lag grows) rather than
# chaining, and so vouching for, altered contents; `audit verify` names the entry. The hash
# covers the payload as written; audit_log's columns are read from that same payload.
LINK_ROWS_FUNCTION = """
CREATE FUNCTION audit_link_rows(p_horizon bigint, p_max_rows integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    entry record;
    last_tx bigint;
    last_pos bigint;
    seqs bigint[] := '{}';
    prev_hashes text[] := '{}';
    hashes text[] := '{}';
    payloads text[] := '{}';
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR entry IN
        SELECT tx, pos, payload, content_hash FROM audit_pending
        WHERE tx < p_horizon ORDER BY tx, pos LIMIT p_max_rows
    LOOP
        IF encode(sha256(convert_to(entry.payload, 'UTF8')), 'hex') <> entry.content_hash THEN
            RAISE EXCEPTION 'audit entry % (tx=% pos=%) was altered before it was linked',
                    substring(entry.payload FROM '"id":"([0-9a-f-]{36})"'), entry.tx, entry.pos
                USING ERRCODE = 'data_corrupted',
                      HINT = 'payment-service audit verify names it; linking stops there';
        END IF;
        head_seq := head_seq + 1;
        seqs := seqs || head_seq;
        prev_hashes := prev_hashes || head_hash;
        -- The bytes domain/audit_chain.py `canonical` hashes: seq, previous hash, payload.
        head_hash := encode(sha256(convert_to(
            head_seq::text || chr(10) || head_hash || chr(10) || entry.payload, 'UTF8')), 'hex');
        hashes := hashes || head_hash;
        payloads := payloads || entry.payload;
        last_tx := entry.tx;
        last_pos := entry.pos;
    END LOOP;
    IF cardinality(seqs) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_log (seq, id, occurred_at, actor_kind, actor_subject, action,
                           resource_type, resource_id, request_id, origin, outcome, reason,
                           before, after, prev_hash, hash)
    SELECT link.seq, (d ->> 'id')::uuid, (d ->> 'occurred_at')::timestamptz,
           d -> 'actor' ->> 'kind', d -> 'actor' ->> 'subject', d ->> 'action',
           d -> 'resource' ->> 'type', d -> 'resource' ->> 'id', d ->> 'request_id',
           d ->> 'origin', d ->> 'outcome', d ->> 'reason',
           nullif(d -> 'before', 'null'::jsonb), nullif(d -> 'after', 'null'::jsonb),
           link.prev_hash, link.hash
    FROM unnest(seqs, prev_hashes, hashes, payloads) AS link(seq, prev_hash, hash, payload)
    -- OFFSET 0 keeps the subquery from being pulled up: each payload is parsed once, not once
    -- per column read from it (a fifth of the cost of linking, measured).
    CROSS JOIN LATERAL (SELECT link.payload::jsonb AS d OFFSET 0) AS parsed
    ORDER BY link.seq;
    -- Exactly the rows linked: below the horizon nothing new can appear.
    PERFORM set_config('audit.linking', 'on', true);
    DELETE FROM audit_pending WHERE tx < p_horizon AND (tx, pos) <= (last_tx, last_pos);
    PERFORM set_config('audit.linking', 'off', true);
    RETURN cardinality(seqs);
END
$$
"""

# One batch for the linker `p_holder`: -1 when another linker holds the lease (or is linking
# right now), else the number of entries linked; the lease is taken or renewed either way.
#
# The horizon: the oldest transaction still running in this database, read from a snapshot
# taken after pg_stat_activity was read. A transaction of this database that is running at the
# snapshot was running when pg_stat_activity was read too (or started after it, then it is not
# in that list either), so only transactions of other databases are set aside; transactions of
# other databases cannot write here and must not hold the chain back. When pg_stat_activity
# hides other roles' transactions, nothing is set aside: the horizon is then only lower.
LINK_FUNCTION = """
CREATE FUNCTION audit_link(p_holder text, p_lease_seconds double precision, p_max_rows integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    lease record;
    elsewhere bigint[];
    horizon bigint;
BEGIN
    -- Read without a lock first: a linker that does not hold a valid lease never locks the
    -- row, so it never makes the holder skip a run.
    SELECT holder, expires_at INTO lease FROM audit_linker_lease WHERE id = 1;
    IF lease.holder <> p_holder AND lease.expires_at > clock_timestamp() THEN
        RETURN -1;
    END IF;
    SELECT holder, expires_at INTO lease FROM audit_linker_lease WHERE id = 1
        FOR UPDATE SKIP LOCKED;
    IF NOT FOUND OR (lease.holder <> p_holder AND lease.expires_at > clock_timestamp()) THEN
        RETURN -1;  -- another linker is mid-batch, or took the lease meanwhile
    END IF;
    UPDATE audit_linker_lease
        SET holder = p_holder,
            expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
        WHERE id = 1;
    SELECT coalesce(array_agg(backend_xid::text::bigint), '{}') INTO elsewhere
        FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database();
    -- A new statement: a snapshot taken after the read above.
    SELECT coalesce(
               (SELECT min(running::text::bigint) FROM pg_snapshot_xip(snapshot) AS running
                WHERE running::text::bigint % 4294967296 <> ALL (elsewhere)),
               pg_snapshot_xmax(snapshot)::text::bigint)
        INTO horizon FROM pg_current_snapshot() AS snapshot;
    RETURN audit_link_rows(horizon, p_max_rows);
END
$$
"""

# A stopping linker hands the lease back, so that another takes over at once.
RELEASE_FUNCTION = """
CREATE FUNCTION audit_link_release(p_holder text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    UPDATE audit_linker_lease SET expires_at = '-infinity'
    WHERE id = 1 AND holder = p_holder
    RETURNING true
$$
"""

PENDING_GUARD_FUNCTION = """
CREATE FUNCTION audit_pending_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.linking', true) = 'on' THEN
        RETURN NULL;  -- audit_link_rows moving the entries it linked
    END IF;
    RAISE EXCEPTION 'audit_pending is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'pending audit entries only leave by being linked into audit_log';
END
$$
"""
PENDING_GUARD_TRIGGERS = {
    "audit_pending_no_update": "UPDATE",
    "audit_pending_no_delete": "DELETE",
    "audit_pending_no_truncate": "TRUNCATE",
}

# Migration 0012's chaining at COMMIT, restored by the downgrade.
OLD_CHAIN_FUNCTION = """
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342580);
    SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    INSERT INTO audit_log (seq, id, occurred_at, actor_kind, actor_subject, action,
                           resource_type, resource_id, request_id, origin, outcome, reason,
                           before, after, prev_hash, hash)
    VALUES (head_seq + 1, NEW.id, NEW.occurred_at, NEW.actor_kind, NEW.actor_subject,
            NEW.action, NEW.resource_type, NEW.resource_id, NEW.request_id, NEW.origin,
            NEW.outcome, NEW.reason, NEW.before, NEW.after, head_hash,
            encode(sha256(convert_to((head_seq + 1)::text || E'\\n' || head_hash || E'\\n'
                                     || NEW.payload, 'UTF8')), 'hex'));
    DELETE FROM audit_pending WHERE id = NEW.id;
    RETURN NULL;
END
$$
"""


def _app_role() -> str | None:
    role = os.environ.get("DB_APP_ROLE", "").strip()
    return op.get_bind().dialect.identifier_preparer.quote(role) if role else None


def _old_pending_columns() -> list[sa.Column]:
    """audit_pending as migration 0012 made it (restored by the downgrade)."""
    return [
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_subject", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before", postgresql.JSONB(none_as_null=True), nullable=True),
        sa.Column("after", postgresql.JSONB(none_as_null=True), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_pending"),
    ]


def upgrade() -> None:
    # 0012's trigger emptied audit_pending at every commit: nothing to carry over. Checked all
    # the same (someone may have disabled the trigger): rows there would be lost otherwise.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit_pending) THEN RAISE EXCEPTION "
        "'audit_pending holds entries that were never chained: chain them before upgrading'; "
        "END IF; END $$"
    )
    op.drop_table("audit_pending")  # its chaining trigger goes with it
    op.execute("DROP FUNCTION audit_log_chain()")
    op.create_table(
        "audit_pending",
        sa.Column("tx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pos", sa.BigInteger(), sa.Identity(always=True, cache=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tx", "pos", name=op.f("pk_audit_pending")),
    )
    op.create_table(
        "audit_linker_lease",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_linker_lease_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_linker_lease")),
    )
    op.execute(
        "INSERT INTO audit_linker_lease (id, holder, expires_at) VALUES (1, '', '-infinity')"
    )
    op.execute(PENDING_GUARD_FUNCTION)
    for name, operation in PENDING_GUARD_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {operation} ON audit_pending "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_append_only()"
        )
        op.execute(f"ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER {name}")
    op.execute(LINK_ROWS_FUNCTION)
    op.execute(LINK_FUNCTION)
    op.execute(RELEASE_FUNCTION)
    # Only the linking functions (as their owner) write these: not callable piecemeal.
    op.execute("REVOKE ALL ON FUNCTION audit_link_rows(bigint, integer) FROM PUBLIC")
    role = _app_role()
    if role:
        # Readers show entries not linked yet: the app role reads audit_pending too.
        op.execute(f"GRANT SELECT, INSERT ON audit_pending TO {role}")
        op.execute(f"REVOKE ALL ON audit_linker_lease FROM {role}")


def downgrade() -> None:
    # Link what is pending first, all of it: with the table locked no writer is inserting, and
    # every committed entry is visible to the next statement.
    op.execute("LOCK TABLE audit_pending IN ACCESS EXCLUSIVE MODE")
    op.execute(f"SELECT audit_link_rows({2**63 - 1}, NULL)")
    op.execute("DROP FUNCTION audit_link_release(text)")
    op.execute("DROP FUNCTION audit_link(text, double precision, integer)")
    op.execute("DROP FUNCTION audit_link_rows(bigint, integer)")
    op.drop_table("audit_linker_lease")
    op.drop_table("audit_pending")  # its guard triggers go with it
    op.execute("DROP FUNCTION audit_pending_append_only()")
    op.create_table("audit_pending", *_old_pending_columns())
    op.execute(OLD_CHAIN_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"
    )
    op.execute("ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_chain")
    role = _app_role()
    if role:  # 0012's privileges: append only
        op.execute(f"GRANT INSERT ON audit_pending TO {role}")
