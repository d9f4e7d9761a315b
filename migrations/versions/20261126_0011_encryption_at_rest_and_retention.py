"""encryption at rest and retention

Sensitive columns become BYTEA holding AES-256-GCM envelopes (infra/crypto/envelope.py).
This migration needs no key: the values it finds are rewritten in the envelope's format 0 -
a zero byte, then the plaintext in UTF-8 - which the service reads as they are, and
`payment-service rotate-keys` seals (computing their blind indexes) once the service runs
with its keys. Empty values become NULL. Also: blind-index columns, the retention markers
(anonymized_at) and the partial indexes the retention job scans.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 06:38:22.268224
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, old type, old server default or None, JSON?)
TEXT_COLUMNS = (
    ("payment_methods", "paypal_email", sa.String(254), None),
    ("payment_methods", "gateway_customer_id", sa.String(255), None),
    ("payments", "gateway_customer_id", sa.String(255), None),
    ("payments", "description", sa.String(500), ""),
    ("payments", "cancellation_reason", sa.String(500), ""),
    ("refunds", "reason", sa.String(500), ""),
)
JSON_COLUMNS = (
    ("payments", "metadata", "'{}'::jsonb"),
    ("webhook_events", "payload", None),
)
FORMAT_0 = "decode('00', 'hex')"


def _to_format_0(
    table: str, column: str, old_type: sa.types.TypeEngine, as_text: str, empty: str
) -> None:
    # Default and NOT NULL first: PostgreSQL cannot cast a text default to BYTEA.
    op.alter_column(table, column, existing_type=old_type, server_default=None, nullable=True)
    op.alter_column(
        table,
        column,
        existing_type=old_type,
        type_=postgresql.BYTEA(),
        postgresql_using=(
            f"CASE WHEN {column} IS NULL OR {column} = {empty} THEN NULL "
            f"ELSE {FORMAT_0} || convert_to({as_text}, 'UTF8') END"
        ),
    )


def upgrade() -> None:
    for table, column, old_type, _ in TEXT_COLUMNS:
        _to_format_0(table, column, old_type, column, "''")
    for table, column, _ in JSON_COLUMNS:
        _to_format_0(table, column, postgresql.JSONB(), f"{column}::text", "'{}'::jsonb")
    # Saved answers of idempotency keys are the responses themselves: sealed from now on.
    op.execute(
        "UPDATE idempotency_keys SET answer_body = decode('00', 'hex') || answer_body "
        "WHERE answer_body IS NOT NULL"
    )

    op.add_column("payment_methods", sa.Column("paypal_email_bidx", postgresql.BYTEA()))
    op.add_column("payment_methods", sa.Column("gateway_customer_bidx", postgresql.BYTEA()))
    op.add_column("payment_methods", sa.Column("anonymized_at", sa.DateTime(timezone=True)))
    op.add_column("payments", sa.Column("anonymized_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_payment_methods_gateway_customer_bidx",
        "payment_methods",
        ["gateway_customer_bidx"],
        postgresql_where=sa.text("gateway_customer_bidx IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_methods_paypal_email_bidx",
        "payment_methods",
        ["paypal_email_bidx"],
        postgresql_where=sa.text("paypal_email_bidx IS NOT NULL"),
    )
    op.create_index(
        "ix_payment_methods_retention",
        "payment_methods",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL AND anonymized_at IS NULL"),
    )
    op.create_index(
        "ix_payments_retention",
        "payments",
        ["created_at"],
        postgresql_where=sa.text("anonymized_at IS NULL"),
    )
    op.create_index(
        "ix_webhook_events_retention",
        "webhook_events",
        ["received_at"],
        postgresql_where=sa.text("payload IS NOT NULL"),
    )


def _refuse_if_sealed(table: str, column: str) -> None:
    # Names are this migration's constants, never input.
    query = f"SELECT count(*) FROM {table} WHERE get_byte({column}, 0) <> 0"  # noqa: S608
    sealed = op.get_bind().execute(sa.text(query)).scalar_one()
    if sealed:
        raise RuntimeError(
            f"{table}.{column} holds {sealed} encrypted values: going below 0011 would lose "
            "them (the migration has no key to decrypt them); restore a backup instead"
        )


def downgrade() -> None:
    for table, column, *_ in (*TEXT_COLUMNS, *JSON_COLUMNS):
        _refuse_if_sealed(table, column)
    _refuse_if_sealed("idempotency_keys", "answer_body")

    op.drop_index("ix_webhook_events_retention", table_name="webhook_events")
    op.drop_index("ix_payments_retention", table_name="payments")
    op.drop_index("ix_payment_methods_retention", table_name="payment_methods")
    op.drop_index("ix_payment_methods_paypal_email_bidx", table_name="payment_methods")
    op.drop_index("ix_payment_methods_gateway_customer_bidx", table_name="payment_methods")
    op.drop_column("payments", "anonymized_at")
    op.drop_column("payment_methods", "anonymized_at")
    op.drop_column("payment_methods", "gateway_customer_bidx")
    op.drop_column("payment_methods", "paypal_email_bidx")

    op.execute(
        "UPDATE idempotency_keys SET answer_body = substring(answer_body FROM 2) "
        "WHERE answer_body IS NOT NULL"
    )
    plaintext = "convert_from(substring({column} FROM 2), 'UTF8')"
    for table, column, old_type, default in TEXT_COLUMNS:
        value = plaintext.format(column=column)
        fallback = "NULL" if default is None else "''"
        op.alter_column(
            table,
            column,
            existing_type=postgresql.BYTEA(),
            type_=old_type,
            postgresql_using=f"CASE WHEN {column} IS NULL THEN {fallback} ELSE {value} END",
        )
        if default is not None:
            op.alter_column(table, column, nullable=False, server_default=default)
    for table, column, default in JSON_COLUMNS:
        value = plaintext.format(column=column)
        op.alter_column(
            table,
            column,
            existing_type=postgresql.BYTEA(),
            type_=postgresql.JSONB(),
            postgresql_using=f"CASE WHEN {column} IS NULL THEN '{{}}'::jsonb ELSE ({value})::jsonb END",
        )
        op.alter_column(
            table, column, nullable=False, server_default=sa.text(default) if default else None
        )
