"""disputes on the payment and their listing

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07

The payment keeps what its disputes amount to (disputed_minor, dispute_lost_minor,
dispute_status; domain/payment_disputes.py) so reading a payment needs no look at the
disputes table; the columns are filled here from the disputes stored so far. Two keyset
indexes serve ListDisputes (newest first, all or by status).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# OPENED while any dispute is open, else the status of the latest one to close.
_BACKFILL = """
UPDATE payments p SET
  disputed_minor = s.disputed,
  dispute_lost_minor = s.lost,
  dispute_status = s.status
FROM (
  SELECT payment_id,
         sum(amount_minor) AS disputed,
         coalesce(sum(amount_minor) FILTER (WHERE status = 'LOST'), 0) AS lost,
         CASE WHEN bool_or(status = 'OPENED') THEN 'OPENED'
              ELSE (array_agg(status ORDER BY coalesce(closed_at, updated_at) DESC,
                                              created_at DESC, id DESC))[1]
         END AS status
  FROM disputes GROUP BY payment_id
) s
WHERE p.id = s.payment_id
"""


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("disputed_minor", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "payments",
        sa.Column("dispute_lost_minor", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column("payments", sa.Column("dispute_status", sa.String(length=16), nullable=True))
    op.execute(_BACKFILL)
    op.create_index("ix_disputes_listing", "disputes", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_disputes_status_listing", "disputes", ["status", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_disputes_status_listing", table_name="disputes")
    op.drop_index("ix_disputes_listing", table_name="disputes")
    op.drop_column("payments", "dispute_status")
    op.drop_column("payments", "dispute_lost_minor")
    op.drop_column("payments", "disputed_minor")
