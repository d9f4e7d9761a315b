"""outbox traceparent: the trace an event was committed in, continued when it is published

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

Additive and nullable: rows written before, and every row written with tracing off, have
none (NULL); the relay then publishes without a trace to continue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
