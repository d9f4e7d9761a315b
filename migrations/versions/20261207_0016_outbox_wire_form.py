"""outbox rows in their published form

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

From this revision the service renders an event once, when it writes it to the outbox: `value`
holds the Kafka message value (the specification's JSON) and `headers` the CloudEvents headers
as [[name, text], ...]; the relay ships them as they are. Rows written before keep their
neutral `payload` (now nullable) and the relay still renders those, so an upgrade over
unpublished rows loses none.

Downgrade gives every row without a payload one, read back from its published JSON: the
published fields are the event's fields under the same names except the four below, and
nothing is lost (amountMinor and the currency carry the amount, the timestamp has the
microseconds). The previous release then publishes them exactly as this one would have.
(Since revision 0019 the money events also carry their settlement: settlementAmountMinor and
settlementCurrency become the event's `settlement` like the amount, exchangeRate stays; a
release before 0019 ignores both.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Published JSON -> neutral payload: timestamp is occurredAt, paymentMethod is
# paymentMethodType, amount is {amountMinor, currency} (the decimal is dropped), plus the type.
_PAYLOAD_OF_PUBLISHED = """
UPDATE outbox SET payload =
    (published.wire - 'timestamp' - 'amount' - 'currency' - 'amountMinor' - 'paymentMethod'
        - 'settlementAmount' - 'settlementCurrency' - 'settlementAmountMinor')
    || jsonb_build_object('type', outbox.event_type, 'occurredAt', published.wire -> 'timestamp')
    || CASE WHEN published.wire ? 'amountMinor' THEN jsonb_build_object('amount',
           jsonb_build_object('amountMinor', published.wire -> 'amountMinor',
                              'currency', published.wire -> 'currency'))
       ELSE '{}'::jsonb END
    || CASE WHEN published.wire ? 'settlementAmountMinor' THEN jsonb_build_object('settlement',
           jsonb_build_object('amountMinor', published.wire -> 'settlementAmountMinor',
                              'currency', published.wire -> 'settlementCurrency'))
       ELSE '{}'::jsonb END
    || CASE WHEN published.wire ? 'paymentMethod'
       THEN jsonb_build_object('paymentMethodType', published.wire -> 'paymentMethod')
       ELSE '{}'::jsonb END
FROM (SELECT id, convert_from(value, 'UTF8')::jsonb AS wire FROM outbox WHERE payload IS NULL)
    AS published
WHERE outbox.id = published.id
"""


def upgrade() -> None:
    op.add_column("outbox", sa.Column("value", postgresql.BYTEA(), nullable=True))
    op.add_column(
        "outbox", sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.alter_column(
        "outbox", "payload", existing_type=postgresql.JSONB(astext_type=sa.Text()), nullable=True
    )
    op.create_check_constraint(
        op.f("ck_outbox_publishable"),
        "outbox",
        "(value IS NOT NULL AND headers IS NOT NULL) OR payload IS NOT NULL",
    )


def downgrade() -> None:
    op.execute(_PAYLOAD_OF_PUBLISHED)
    op.drop_constraint(op.f("ck_outbox_publishable"), "outbox", type_="check")
    op.alter_column(
        "outbox", "payload", existing_type=postgresql.JSONB(astext_type=sa.Text()), nullable=False
    )
    op.drop_column("outbox", "headers")
    op.drop_column("outbox", "value")
