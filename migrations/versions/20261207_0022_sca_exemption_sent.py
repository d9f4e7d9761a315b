"""sca exemption sent and applied: how the exemption went to the gateway, and the issuer's
answer

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

Additive and nullable: payments made before say nothing about it (NULL), which is the truth
for them — no adapter sent exemptions then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("sca_exemption_sent", sa.String(length=200), nullable=True))
    op.add_column("payments", sa.Column("sca_exemption_applied", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "sca_exemption_applied")
    op.drop_column("payments", "sca_exemption_sent")
