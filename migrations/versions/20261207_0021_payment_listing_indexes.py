"""payment listing indexes: the keyset orders of ListPayments and the finance export

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

ListPayments pages by (created_at, id) in either direction, after a cursor, optionally
narrowed to a user or a status (infra/db/payment_search.py); the export walks a period by
(created_at, id). Each of these indexes serves one of those walks with an index scan that
stops after page_size + 1 rows, however many payments the table holds:
  (user_id, created_at, id)   a user's payments (every end user's listing); it makes the
                              single-column ix_payments_user_id redundant, which is dropped
  (status, created_at, id)    an operator's "every CAPTURED payment"
  (created_at, id)            everything, or a period, or a filter on a column with few
                              distinct values (currency, gateway, method type)
Built CONCURRENTLY (outside the migration's transaction) so that a deployment with millions
of payments keeps taking them while the indexes build.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_payments_user_listing": ["user_id", "created_at", "id"],
    "ix_payments_status_listing": ["status", "created_at", "id"],
    "ix_payments_listing": ["created_at", "id"],
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, columns in _INDEXES.items():
            op.create_index(name, "payments", columns, unique=False, postgresql_concurrently=True)
        op.drop_index("ix_payments_user_id", table_name="payments", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_payments_user_id", "payments", ["user_id"], unique=False,
            postgresql_concurrently=True,
        )  # fmt: skip
        for name in _INDEXES:
            op.drop_index(name, table_name="payments", postgresql_concurrently=True)
