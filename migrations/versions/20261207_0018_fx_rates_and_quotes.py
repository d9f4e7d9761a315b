"""fx rates and quotes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

fx_rates: the newest exchange rate of each pair from each source (the ECB feed, an
administrator), with when it was valid and when it was fetched. fx_quotes: rates locked for a
conversion until their expiry. Both are new tables: nothing existing changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("quote_currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rate", sa.Numeric(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name=op.f("ck_fx_rates_rate_positive")),
        sa.CheckConstraint(
            "base_currency <> quote_currency", name=op.f("ck_fx_rates_two_currencies")
        ),
        sa.PrimaryKeyConstraint(
            "base_currency", "quote_currency", "source", name=op.f("pk_fx_rates")
        ),
    )
    op.create_table(
        "fx_quotes",
        sa.Column("id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("source_currency", sa.String(3), nullable=False),
        sa.Column("target_currency", sa.String(3), nullable=False),
        sa.Column("source_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("target_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.Numeric(), nullable=False),
        sa.Column("mid_rate", sa.Numeric(), nullable=False),
        sa.Column("rate_source", sa.String(64), nullable=False),
        sa.Column("rate_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("markup_bps", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source_amount_minor > 0", name=op.f("ck_fx_quotes_source_amount_positive")
        ),
        sa.CheckConstraint(
            "target_amount_minor >= 0", name=op.f("ck_fx_quotes_target_amount_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_quotes")),
    )
    op.create_index("ix_fx_quotes_expire_time", "fx_quotes", ["expire_time"])


def downgrade() -> None:
    op.drop_index("ix_fx_quotes_expire_time", table_name="fx_quotes")
    op.drop_table("fx_quotes")
    op.drop_table("fx_rates")
