"""audit log: append-only, hash-chained

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-26 06:38:11.913836

Rows are never changed or removed: statement triggers refuse UPDATE, DELETE and TRUNCATE for
every role, the owner and superusers included (ENABLE ALWAYS: also under
session_replication_role = replica); only DDL (disabling the triggers) gets past them.

Deployments that run migrations as an owner role and the service as another role set
DB_APP_ROLE to the service's role: it is then granted SELECT and INSERT on audit_log only,
and UPDATE, DELETE and TRUNCATE are revoked from it.
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0010"
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
TRIGGERS = {
    "audit_log_no_update": "UPDATE",
    "audit_log_no_delete": "DELETE",
    "audit_log_no_truncate": "TRUNCATE",
}


def app_role_privileges(role: str) -> list[str]:
    """The statements that leave `role` able to read and append to audit_log, nothing more."""
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    return [
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {quoted}",
        f"GRANT SELECT, INSERT ON audit_log TO {quoted}",
    ]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
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
        sa.Column(
            "before", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
        sa.Column(
            "after", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True
        ),
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
    op.execute(APPEND_ONLY_FUNCTION)
    for name, operation in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(f"ALTER TABLE audit_log ENABLE ALWAYS TRIGGER {name}")
    role = os.environ.get("DB_APP_ROLE", "").strip()
    if role:
        for statement in app_role_privileges(role):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_audit_log_resource", table_name="audit_log")
    op.drop_table("audit_log")  # its triggers go with it
    op.execute("DROP FUNCTION audit_log_append_only()")
