"""audit log: append-only, hash-chained at commit

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 06:38:11.913836

The application inserts its entries into audit_pending, in the transaction of the change
they record, each with its canonical payload (domain/audit_chain.py). A deferred constraint
trigger chains them at COMMIT: it takes a transaction-scoped advisory lock, reads the head
(last seq and hash), moves each entry to audit_log with the next seq, the previous hash and
sha256(seq, prev_hash and payload joined by newlines), and removes it from audit_pending.
The lock is held from inside the commit to its end, with no round trip to the application:
the chain is one total order and commits wait for each other only that long.

Rows of audit_log are never changed or removed: statement triggers refuse UPDATE, DELETE and
TRUNCATE for every role, the owner and superusers included (ENABLE ALWAYS: also under
session_replication_role = replica); only DDL (disabling the triggers) gets past them.

Deployments that run migrations as an owner role and the service as another role set
DB_APP_ROLE to the service's role: it may then only SELECT audit_log and INSERT into
audit_pending; rows reach audit_log only through the chaining function (SECURITY DEFINER),
and UPDATE, DELETE and TRUNCATE of audit_log are revoked from it.
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are never changed or removed';
END
$$
"""
# The lock key is "audit" in ASCII; nothing else in this database takes it.
CHAIN_FUNCTION = """
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(418581342580);
    -- Each statement of this (volatile) function takes a fresh snapshot: it sees the row
    -- the previous holder of the lock committed.
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
APPEND_ONLY_TRIGGERS = {
    "audit_log_no_update": "UPDATE",
    "audit_log_no_delete": "DELETE",
    "audit_log_no_truncate": "TRUNCATE",
}


def _audit_columns() -> list[sa.Column]:
    return [
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
        sa.Column(
            "before", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
        sa.Column(
            "after", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
    ]


def app_role_privileges(role: str) -> list[str]:
    """The statements that leave `role` able to read audit_log and append through
    audit_pending, nothing more."""
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    return [
        f"REVOKE ALL ON audit_log FROM {quoted}",
        f"GRANT SELECT ON audit_log TO {quoted}",
        f"REVOKE ALL ON audit_pending FROM {quoted}",
        f"GRANT INSERT ON audit_pending TO {quoted}",
    ]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        *_audit_columns(),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('success','failure','pending')", name=op.f("ck_audit_log_outcome_known")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_log_id")),
    )
    op.create_index(
        "ix_audit_log_resource", "audit_log", ["resource_type", "resource_id", "seq"], unique=False
    )
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        *_audit_columns(),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    op.execute(APPEND_ONLY_FUNCTION)
    for name, operation in APPEND_ONLY_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(f"ALTER TABLE audit_log ENABLE ALWAYS TRIGGER {name}")
    op.execute(CHAIN_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"
    )
    op.execute("ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_chain")
    role = os.environ.get("DB_APP_ROLE", "").strip()
    if role:
        for statement in app_role_privileges(role):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_pending")  # its trigger goes with it
    op.drop_index("ix_audit_log_resource", table_name="audit_log")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_chain()")
    op.execute("DROP FUNCTION audit_log_append_only()")
