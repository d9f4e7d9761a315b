"""commit refusal: a function that ends the statement (and its transaction) with an error

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

A keyed request's first commit claims its idempotency key in the same statement as its writes
(infra/db/commit_writes.py). When the key turns out to be taken, or the payment's write is
refused while the claim went in, nothing of that statement may stay: its last expression calls
`payments_refuse_commit(reason)`, which raises with SQLSTATE PA409 and the reason as message.
VOLATILE (the default), so the planner never evaluates it ahead of the CASE that guards it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION payments_refuse_commit(reason text) RETURNS integer"
        " LANGUAGE plpgsql VOLATILE AS $$"
        " BEGIN RAISE EXCEPTION USING ERRCODE = 'PA409', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION payments_refuse_commit(text)")
