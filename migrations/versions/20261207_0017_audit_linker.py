"""audit linker: entries are chained after commit by one leased linker, not at COMMIT

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07

Until this revision a deferred trigger chained every audited transaction's entries at its
COMMIT under one advisory lock: every audited commit of every replica waited for the one
before it. From now on a writer only inserts its entries into audit_pending (a plain insert,
no lock held, in the transaction of the change: nothing is lost), each with its canonical
payload, the SHA-256 of that payload (its content hash, taken when it is written) and the id
of its transaction (`tx`). One linker at a time, the holder of the lease row, moves committed
entries to audit_log in batches with `audit_link()`: one call per batch, from any replica.

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

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Chains the pending entries of transactions below `p_horizon` (at most p_max_rows, NULL: all)
# after the head of audit_log. An entry whose payload no longer matches its content hash was
# altered while pending: linking stops there (an error, the chain lag grows) rather than
# chaining, and so vouching for, altered contents; `audit verify` names the entry.
LINK_ROWS_FUNCTION = """
CREATE FUNCTION audit_link_rows(p_horizon bigint, p_max_rows integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    entry record;
    ids uuid[] := '{}';
    seqs bigint[] := '{}';
    prev_hashes text[] := '{}';
    hashes text[] := '{}';
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR entry IN
        SELECT id, payload, content_hash FROM audit_pending
        WHERE tx < p_horizon ORDER BY tx, pos LIMIT p_max_rows
    LOOP
        IF encode(sha256(convert_to(entry.payload, 'UTF8')), 'hex') <> entry.content_hash THEN
            RAISE EXCEPTION 'audit entry % was altered before it was linked', entry.id
                USING ERRCODE = 'data_corrupted',
                      HINT = 'payment-service audit verify names it; linking stops there';
        END IF;
        head_seq := head_seq + 1;
        ids := ids || entry.id;
        seqs := seqs || head_seq;
        prev_hashes := prev_hashes || head_hash;
        -- The bytes domain/audit_chain.py `canonical` hashes: seq, previous hash, payload.
        head_hash := encode(sha256(convert_to(
            head_seq::text || chr(10) || head_hash || chr(10) || entry.payload, 'UTF8')), 'hex');
        hashes := hashes || head_hash;
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_log (seq, id, occurred_at, actor_kind, actor_subject, action,
                           resource_type, resource_id, request_id, origin, outcome, reason,
                           before, after, prev_hash, hash)
    SELECT link.seq, p.id, p.occurred_at, p.actor_kind, p.actor_subject, p.action,
           p.resource_type, p.resource_id, p.request_id, p.origin, p.outcome, p.reason,
           p.before, p.after, link.prev_hash, link.hash
    FROM unnest(ids, seqs, prev_hashes, hashes) AS link(id, seq, prev_hash, hash)
    JOIN audit_pending p ON p.id = link.id
    ORDER BY link.seq;
    PERFORM set_config('audit.linking', 'on', true);
    DELETE FROM audit_pending WHERE id = ANY(ids);
    PERFORM set_config('audit.linking', 'off', true);
    RETURN cardinality(ids);
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


def upgrade() -> None:
    # 0012's trigger left audit_pending empty at every commit: there is nothing to carry over.
    op.execute("DROP TRIGGER audit_pending_chain ON audit_pending")
    op.execute("DROP FUNCTION audit_log_chain()")
    op.add_column("audit_pending", sa.Column("tx", sa.BigInteger(), nullable=False))
    op.add_column(
        "audit_pending",
        sa.Column(
            "pos",
            sa.BigInteger(),
            sa.Identity(always=True, cache=100),
            nullable=False,
        ),
    )
    op.add_column("audit_pending", sa.Column("content_hash", sa.String(64), nullable=False))
    op.add_column(
        "audit_pending", sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False)
    )
    op.create_index("ix_audit_pending_link_order", "audit_pending", ["tx", "pos"])
    op.create_index("ix_audit_pending_resource", "audit_pending", ["resource_type", "resource_id"])
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
    for name in PENDING_GUARD_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON audit_pending")
    op.execute("DROP FUNCTION audit_pending_append_only()")
    op.drop_table("audit_linker_lease")
    op.drop_index("ix_audit_pending_resource", table_name="audit_pending")
    op.drop_index("ix_audit_pending_link_order", table_name="audit_pending")
    for column in ("inserted_at", "content_hash", "pos", "tx"):
        op.drop_column("audit_pending", column)
    op.execute(OLD_CHAIN_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"
    )
    op.execute("ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_chain")
    role = _app_role()
    if role:  # back to 0012's privileges: append only
        op.execute(f"REVOKE ALL ON audit_pending FROM {role}")
        op.execute(f"GRANT INSERT ON audit_pending TO {role}")
