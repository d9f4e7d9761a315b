"""analytics: hourly buckets projected from the outbox, and payments per status kept by a
trigger

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

analytics_payment_hours holds every combination of the dimensions per hour;
analytics_payment_slices the same figures per hour and per day, for all payments or one
dimension at a time: what most reports ask, in few rows; analytics_payment_days the same
figures per UTC day for every grouping of two dimensions or more.

The outbox gains `projected_at`: the projector marks each row it counted, in the transaction
that counted it; rows already in the outbox are projected too (what the purge left is the
history the buckets start from).

payment_status_counts is seeded from payments after the triggers exist, in this transaction:
creating a trigger locks payments against writes until the commit, so no change falls
between the seed and the first trigger call.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each connection changes its own shard's row (its backend pid modulo 32: more than the
# connections one database serves to this service at once), so two concurrent commits
# rarely share a row; a status change is one update of that row, the old status's column
# down and the new one's up (no index covers them: a HOT update). The 32 rows exist from
# the start, so the update always finds its row.
SHARDS = 32
# The statuses of payments (the status_known constraint), each a column.
STATUSES = (
    "PENDING",
    "REQUIRES_ACTION",
    "AUTHORIZED",
    "CAPTURED",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "FAILED",
    "CANCELLED",
    "UNDER_REVIEW",
)
_CHANGES = ",\n        ".join(
    f"{s.lower()} = {s.lower()} + (came IS NOT DISTINCT FROM '{s}')::int"
    f" - (gone IS NOT DISTINCT FROM '{s}')::int"
    for s in STATUSES
)
_COUNT_FUNCTION = (
    "CREATE FUNCTION payments_count_status() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "    came text;\n"
    "    gone text;\n"
    "BEGIN\n"
    "    IF TG_OP <> 'INSERT' THEN gone := OLD.status; END IF;\n"
    "    IF TG_OP <> 'DELETE' THEN came := NEW.status; END IF;\n"
    "    UPDATE payment_status_counts SET\n"
    f"        {_CHANGES}\n"
    f"    WHERE shard = pg_backend_pid() % {SHARDS};\n"
    "    RETURN NULL;\n"
    "END\n"
    "$$"
)


# Literal names only (the status list above), no input: a statement built once.
_SEED = (
    "UPDATE payment_status_counts SET "  # noqa: S608
    + ", ".join(f"{s.lower()} = held.{s.lower()}" for s in STATUSES)
    + " FROM (SELECT "
    + ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS {s.lower()}" for s in STATUSES)
    + " FROM payments) AS held WHERE shard = 0"
)

_PAYMENT_FIGURES = (
    "attempts",
    "authorized",
    "captured",
    "failed",
    "retry_attempts",
    "retry_authorized",
)


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _hour() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("hour", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("projected_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_unprojected",
        "outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("projected_at IS NULL"),
    )
    op.create_table(
        "analytics_payment_hours",
        _hour(),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("payment_method_type", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=False),
        *(_count(name) for name in _PAYMENT_FIGURES),
        sa.PrimaryKeyConstraint(
            "hour",
            "gateway",
            "payment_method_type",
            "currency",
            "country",
            "failure_code",
            name=op.f("pk_analytics_payment_hours"),
        ),
    )
    op.create_table(
        "analytics_payment_slices",
        sa.Column("span", sa.String(length=1), nullable=False),
        sa.Column("dimension", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(length=30), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=False),
        *(_count(name) for name in _PAYMENT_FIGURES),
        sa.PrimaryKeyConstraint(
            "span",
            "dimension",
            "bucket",
            "value",
            "failure_code",
            name=op.f("pk_analytics_payment_slices"),
        ),
    )
    op.create_table(
        "analytics_payment_days",
        sa.Column("dimensions", sa.String(length=48), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("payment_method_type", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=False),
        *(_count(name) for name in _PAYMENT_FIGURES),
        sa.PrimaryKeyConstraint(
            "dimensions",
            "day",
            "gateway",
            "payment_method_type",
            "currency",
            "country",
            "failure_code",
            name=op.f("pk_analytics_payment_days"),
        ),
    )
    op.create_table(
        "analytics_revenue_hours",
        _hour(),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _count("captured_minor"),
        _count("refunded_minor"),
        _count("disputed_minor"),
        _count("dispute_lost_minor"),
        sa.PrimaryKeyConstraint(
            "hour", "basis", "currency", name=op.f("pk_analytics_revenue_hours")
        ),
    )
    op.create_table(
        "analytics_dispute_hours",
        _hour(),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            _count(name)
            for name in (
                "opened",
                "won",
                "lost",
                "closed",
                "opened_minor",
                "won_minor",
                "lost_minor",
                "closed_minor",
            )
        ),
        sa.PrimaryKeyConstraint("hour", "currency", name=op.f("pk_analytics_dispute_hours")),
    )
    op.create_table(
        "payment_status_counts",
        sa.Column("shard", sa.SmallInteger(), autoincrement=False, nullable=False),
        *(_count(status.lower()) for status in STATUSES),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_payment_status_counts")),
    )
    op.execute(f"INSERT INTO payment_status_counts (shard) SELECT generate_series(0, {SHARDS - 1})")
    op.execute(_COUNT_FUNCTION)
    op.execute(
        "CREATE TRIGGER payments_count_new_or_gone AFTER INSERT OR DELETE ON payments "
        "FOR EACH ROW EXECUTE FUNCTION payments_count_status()"
    )
    op.execute(
        "CREATE TRIGGER payments_count_status_change AFTER UPDATE OF status ON payments "
        "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) "
        "EXECUTE FUNCTION payments_count_status()"
    )
    # Shard 0 starts with what payments hold now, in one scan (the triggers already lock
    # writers out until this commits).
    op.execute(_SEED)


def downgrade() -> None:
    op.execute("DROP TRIGGER payments_count_status_change ON payments")
    op.execute("DROP TRIGGER payments_count_new_or_gone ON payments")
    op.execute("DROP FUNCTION payments_count_status()")
    op.drop_table("payment_status_counts")
    op.drop_table("analytics_dispute_hours")
    op.drop_table("analytics_revenue_hours")
    op.drop_table("analytics_payment_days")
    op.drop_table("analytics_payment_slices")
    op.drop_table("analytics_payment_hours")
    op.drop_index(
        "ix_outbox_unprojected",
        table_name="outbox",
        postgresql_where=sa.text("projected_at IS NULL"),
    )
    op.drop_column("outbox", "projected_at")
