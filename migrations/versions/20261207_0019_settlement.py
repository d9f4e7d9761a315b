"""settlement: the currency a payment settles in, its locked rate, and settled amounts

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

payments: the settlement currency, the settlement of the amount, the rate (markup included)
with its source, as_of, markup and quote, and the settlements of the capture and of the
refunds; transactions and refunds: their settlement amount and currency. Every column is new
and either NULL or a constant default, so PostgreSQL adds them without rewriting a table. A
payment written before this revision keeps settlement_currency NULL: it settles in its own
currency at rate 1 (infra/db/mappers.py reads it so), and its next save writes that out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLEMENT_ORDERED = (
    "settlement_currency IS NULL OR (settlement_currency ~ '^[A-Z]{3}$' "
    "AND exchange_rate > 0 AND 0 <= refunded_settlement_minor "
    "AND refunded_settlement_minor <= captured_settlement_minor "
    "AND captured_settlement_minor <= settlement_amount_minor)"
)


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.add_column("payments", sa.Column("settlement_currency", sa.String(3)))
    op.add_column("payments", sa.Column("settlement_amount_minor", sa.BigInteger()))
    op.add_column("payments", sa.Column("exchange_rate", sa.Numeric()))
    op.add_column("payments", sa.Column("exchange_rate_source", sa.String(64)))
    op.add_column("payments", sa.Column("exchange_rate_as_of", ts))
    op.add_column("payments", sa.Column("fx_markup_bps", sa.Integer()))
    op.add_column("payments", sa.Column("fx_quote_id", postgresql.UUID(as_uuid=False)))
    for column in ("captured_settlement_minor", "refunded_settlement_minor"):
        op.add_column(
            "payments",
            sa.Column(column, sa.BigInteger(), nullable=False, server_default="0"),
        )
    op.create_check_constraint(
        op.f("ck_payments_settlement_ordered"), "payments", SETTLEMENT_ORDERED
    )
    for table in ("transactions", "refunds"):
        op.add_column(table, sa.Column("settlement_amount_minor", sa.BigInteger()))
        op.add_column(table, sa.Column("settlement_currency", sa.String(3)))


def downgrade() -> None:
    for table in ("refunds", "transactions"):
        op.drop_column(table, "settlement_currency")
        op.drop_column(table, "settlement_amount_minor")
    op.drop_constraint(op.f("ck_payments_settlement_ordered"), "payments", type_="check")
    for column in (
        "refunded_settlement_minor",
        "captured_settlement_minor",
        "fx_quote_id",
        "fx_markup_bps",
        "exchange_rate_as_of",
        "exchange_rate_source",
        "exchange_rate",
        "settlement_amount_minor",
        "settlement_currency",
    ):
        op.drop_column("payments", column)
