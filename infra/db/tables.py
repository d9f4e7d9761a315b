"""The schema. Alembic migrations in migrations/ must match it (`alembic check`).

Money is BIGINT minor units. Sensitive columns are BYTEA holding AES-256-GCM envelopes
(infra/crypto/envelope.py, sealed and opened in infra/db/mappers.py); an empty value is NULL.
The one BYTEA column in clear is the outbox's message value, published as it is.
Equality lookups on them go through `*_bidx` blind-index columns (HMAC-SHA256). Rules the
business relies on are constraints here too: one payment per order, unique gateway ids and
idempotency keys, one default method per user, and refunded <= captured <= authorized <=
amount.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _ts(name: str, nullable: bool = True, server_default: Any = None) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable, server_default=server_default)


PAYMENT_STATUSES = (
    "'PENDING','REQUIRES_ACTION','AUTHORIZED','CAPTURED','PARTIALLY_REFUNDED',"
    "'REFUNDED','FAILED','CANCELLED','UNDER_REVIEW'"
)

# The refunds of a payment never settle more than its capture, nor the capture more than the
# amount (domain/settlement.py).
SETTLEMENT_ORDERED = (
    "settlement_currency IS NULL OR (settlement_currency ~ '^[A-Z]{3}$' "
    "AND exchange_rate > 0 AND 0 <= refunded_settlement_minor "
    "AND refunded_settlement_minor <= captured_settlement_minor "
    "AND captured_settlement_minor <= settlement_amount_minor)"
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("user_id", UUID(as_uuid=False), nullable=False),
    Column("type", String(30), nullable=False),
    Column("gateway", String(20), nullable=False),
    Column("token", String(255), nullable=False),
    Column("card_brand", String(20)),
    Column("card_last4", String(4)),
    Column("card_expiry_month", Integer),
    Column("card_expiry_year", Integer),
    Column("paypal_email", BYTEA),
    Column("paypal_email_bidx", BYTEA),
    Column("gateway_customer_id", BYTEA),
    Column("gateway_customer_bidx", BYTEA),
    # For the fraud checks (never the card number): BIN and the gateway's card fingerprint.
    Column("card_bin", String(8)),
    Column("card_fingerprint", String(64)),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("deleted_at"),
    # Set by the retention job once the personal data of a long-deleted method is cleared.
    _ts("anonymized_at"),
    Index(
        "uq_payment_methods_one_default_per_user",
        "user_id",
        unique=True,
        postgresql_where=text("is_default AND deleted_at IS NULL"),
    ),
    Index(
        "ix_payment_methods_user_listing",
        "user_id",
        "created_at",
        "id",
        postgresql_where=text("deleted_at IS NULL"),
    ),
    Index(
        "ix_payment_methods_paypal_email_bidx",
        "paypal_email_bidx",
        postgresql_where=text("paypal_email_bidx IS NOT NULL"),
    ),
    Index(
        "ix_payment_methods_gateway_customer_bidx",
        "gateway_customer_bidx",
        postgresql_where=text("gateway_customer_bidx IS NOT NULL"),
    ),
    Index(
        "ix_payment_methods_retention",
        "deleted_at",
        postgresql_where=text("deleted_at IS NOT NULL AND anonymized_at IS NULL"),
    ),
)

payments = Table(
    "payments",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("order_id", UUID(as_uuid=False), nullable=False, unique=True),
    Column("user_id", UUID(as_uuid=False), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("payment_method_type", String(30), nullable=False),
    Column("payment_method_id", UUID(as_uuid=False), ForeignKey("payment_methods.id")),
    Column("payment_method_token", String(255)),
    Column("gateway_customer_id", BYTEA),
    Column("gateway", String(20), nullable=False),
    Column("gateway_payment_id", String(255), unique=True),
    Column("description", BYTEA),
    Column("metadata", BYTEA),
    Column("authorized_minor", BigInteger, nullable=False, server_default="0"),
    Column("captured_minor", BigInteger, nullable=False, server_default="0"),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("failure_code", String(64)),
    Column("failure_reason", String(500)),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("next_action_type", String(32)),
    Column("next_action_url", Text),
    Column("cancellation_reason", BYTEA),
    Column("return_url", String(2048), nullable=False, server_default=""),
    Column("sca_exemption", String(40)),
    Column("liability_shift", Boolean),
    # The exemption as sent to the gateway, in its terms, and whether the issuer applied it.
    Column("sca_exemption_sent", String(200)),
    Column("sca_exemption_applied", Boolean),
    Column("capture_on_authorization", Boolean, nullable=False, server_default=text("false")),
    Column("country", String(2), nullable=False, server_default=""),
    # The fraud checks' verdict on the latest authorization attempt (domain/risk.py) and an
    # admin's decision on a REVIEW.
    Column("risk_decision", String(8)),
    Column("risk_score", SmallInteger),
    Column("risk_rules", JSONB),
    _ts("risk_assessed_at"),
    Column("review_outcome", String(8)),
    Column("reviewed_by", String(255)),
    Column("review_reason", String(500)),
    _ts("reviewed_at"),
    # Settlement (domain/settlement.py, migration 0019): the currency the merchant is paid
    # in and the rate locked at creation, with its source, as_of, markup and quote; the
    # settlement of the amount, the capture and the refunds. NULL settlement_currency: a
    # payment from before 0019, settled in its own currency at rate 1.
    Column("settlement_currency", String(3)),
    Column("settlement_amount_minor", BigInteger),
    Column("exchange_rate", Numeric),
    Column("exchange_rate_source", String(64)),
    _ts("exchange_rate_as_of"),
    Column("fx_markup_bps", Integer),
    Column("fx_quote_id", UUID(as_uuid=False)),
    Column("captured_settlement_minor", BigInteger, nullable=False, server_default="0"),
    Column("refunded_settlement_minor", BigInteger, nullable=False, server_default="0"),
    # What the payment's disputes amount to (domain/payment_disputes.py, migration 0024):
    # kept here so that reading a payment needs no look at the disputes table. NULL
    # dispute_status: never disputed.
    Column("disputed_minor", BigInteger, nullable=False, server_default="0"),
    Column("dispute_lost_minor", BigInteger, nullable=False, server_default="0"),
    Column("dispute_status", String(16)),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("authorized_at"),
    _ts("captured_at"),
    _ts("failed_at"),
    _ts("cancelled_at"),
    _ts("refunded_at"),
    # Set by the retention job once the payment's personal data is cleared.
    _ts("anonymized_at"),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "0 <= refunded_minor AND refunded_minor <= captured_minor "
        "AND captured_minor <= authorized_minor AND authorized_minor <= amount_minor",
        name="amounts_ordered",
    ),
    CheckConstraint(f"status IN ({PAYMENT_STATUSES})", name="status_known"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    CheckConstraint(SETTLEMENT_ORDERED, name="settlement_ordered"),
    # The keyset orders of ListPayments and the export (migration 0021).
    Index("ix_payments_user_listing", "user_id", "created_at", "id"),
    Index("ix_payments_status_listing", "status", "created_at", "id"),
    Index("ix_payments_listing", "created_at", "id"),
    Index(
        "ix_payments_retention",
        "created_at",
        postgresql_where=text("anonymized_at IS NULL"),
    ),
    CheckConstraint(
        "risk_decision IS NULL OR risk_decision IN ('ALLOW','REVIEW','BLOCK')",
        name="risk_decision_known",
    ),
    CheckConstraint("risk_score BETWEEN 0 AND 100", name="risk_score_range"),
    CheckConstraint(
        "review_outcome IS NULL OR review_outcome IN ('APPROVED','REJECTED')",
        name="review_outcome_known",
    ),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("payment_id", UUID(as_uuid=False), ForeignKey("payments.id"), nullable=False),
    Column("type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("refund_id", UUID(as_uuid=False)),
    Column("gateway_transaction_id", String(255)),
    Column("failure_code", String(64)),
    Column("failure_reason", String(500)),
    _ts("created_at", nullable=False),
    _ts("completed_at"),
    # A succeeded capture or refund in the payment's settlement currency (migration 0019).
    Column("settlement_amount_minor", BigInteger),
    Column("settlement_currency", String(3)),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    Index("ix_transactions_payment", "payment_id", "created_at"),
    # Webhooks find a payment by the gateway id of one of its operations (capture, refund).
    Index("ix_transactions_gateway_transaction_id", "gateway_transaction_id"),
    # The reconciler scans open operations only.
    Index(
        "ix_transactions_open",
        "created_at",
        postgresql_where=text("status IN ('PENDING', 'UNKNOWN')"),
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("payment_id", UUID(as_uuid=False), ForeignKey("payments.id"), nullable=False),
    Column(
        "transaction_id",
        UUID(as_uuid=False),
        ForeignKey("transactions.id"),
        nullable=False,
        unique=True,
    ),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", BYTEA),
    Column("status", String(20), nullable=False),
    Column("gateway_refund_id", String(255)),
    Column("failure_code", String(64)),
    Column("failure_reason", String(500)),
    Column("requested_by", String(255), nullable=False, server_default=""),
    _ts("requested_at", nullable=False),
    _ts("processed_at"),
    _ts("created_at", nullable=False),
    # Once processed: in the payment's settlement currency (migration 0019).
    Column("settlement_amount_minor", BigInteger),
    Column("settlement_currency", String(3)),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    Index("ix_refunds_payment_listing", "payment_id", "created_at", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("aggregate_id", UUID(as_uuid=False), nullable=False),
    # Kafka message key: one order's events keep their order.
    Column("message_key", String(255), nullable=False),
    # The published form, rendered when the event was written: the Kafka value and the
    # headers as [[name, text], ...] in order.
    Column("value", BYTEA),
    Column("headers", JSONB),
    # Rows written before revision 0016: the event's neutral JSON, rendered by the relay.
    Column("payload", JSONB),
    # With tracing on, the W3C traceparent of the commit that wrote the event: the relay's
    # publish continues that trace (docs/tracing.md). NULL with tracing off.
    Column("traceparent", Text),
    _ts("created_at", nullable=False),
    _ts("published_at"),
    # Set by the analytics projector in the transaction that counted the event (exactly
    # once); the purge keeps a row until it is set (infra/db/analytics_projector.py).
    _ts("projected_at"),
    CheckConstraint(
        "(value IS NOT NULL AND headers IS NOT NULL) OR payload IS NOT NULL",
        name="publishable",
    ),
    Index(
        "ix_outbox_unpublished",
        "created_at",
        postgresql_where=text("published_at IS NULL"),
    ),
    # The relay keeps one order's events in order by looking at its unpublished ones.
    Index(
        "ix_outbox_unpublished_by_key",
        "message_key",
        "created_at",
        postgresql_where=text("published_at IS NULL"),
    ),
    # The analytics projector's work: a marker per row, not a cursor (ids and created_at
    # commit out of order).
    Index(
        "ix_outbox_unprojected",
        "created_at",
        postgresql_where=text("projected_at IS NULL"),
    ),
)

# Idempotency keys (request_id), scoped per caller and method. The primary key is what makes
# "at most one execution per key" true across replicas.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", String(255), primary_key=True),
    Column("method", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    # Proves ownership of the claim; a claim taken over after its lease gets a new token.
    Column("claim_token", UUID(as_uuid=False), nullable=False),
    _ts("locked_until", nullable=False),
    Column("answer_code", Integer),
    Column("answer_body", BYTEA),
    _ts("created_at", nullable=False),
    _ts("completed_at"),
    CheckConstraint("state IN ('IN_PROGRESS', 'COMPLETED')", name="state_known"),
    Index("ix_idempotency_keys_created", "created_at"),
)

# Automatic retries of soft failures: one row per (payment, operation, target), claimed by
# workers with a lease (run_at pushed forward) so replicas never run the same retry twice.
scheduled_retries = Table(
    "scheduled_retries",
    metadata,
    Column("payment_id", UUID(as_uuid=False), ForeignKey("payments.id"), primary_key=True),
    Column("operation", String(20), primary_key=True),
    Column("target_id", UUID(as_uuid=False), primary_key=True),
    Column("attempt", Integer, nullable=False),
    _ts("run_at", nullable=False),
    Column("last_failure", String(64), nullable=False, server_default=""),
    _ts("created_at", nullable=False, server_default=text("now()")),
    Index("ix_scheduled_retries_run_at", "run_at"),
)

# Gateway webhook events: the primary key makes each event count once, also between
# concurrent deliveries. The payload (sealed) is kept for audit and replays until the
# retention job drops it (WEBHOOK_PAYLOAD_RETENTION_DAYS); the receipt row stays for dedup.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("gateway", String(20), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("payment_id", UUID(as_uuid=False), ForeignKey("payments.id")),
    _ts("received_at", nullable=False),
    Column("payload", BYTEA),
    Index("ix_webhook_events_payment", "payment_id"),
    Index(
        "ix_webhook_events_retention",
        "received_at",
        postgresql_where=text("payload IS NOT NULL"),
    ),
)

# The inbox: events consumed from other services (order.events), by their event id. A
# redelivered event whose id is here has had its effect already.
consumed_events = Table(
    "consumed_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("topic", String(255), nullable=False),
    _ts("received_at", nullable=False),
)

# Orders whose order.cancelled arrived before any payment existed for them (events delivered
# out of order): a later order.confirmed for one of them takes no money.
cancelled_orders = Table(
    "cancelled_orders",
    metadata,
    Column("order_id", UUID(as_uuid=False), primary_key=True),
    _ts("cancelled_at", nullable=False),
)

# Chargebacks, one row per gateway dispute.
disputes = Table(
    "disputes",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("payment_id", UUID(as_uuid=False), ForeignKey("payments.id"), nullable=False),
    Column("gateway", String(20), nullable=False),
    Column("gateway_dispute_id", String(255), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(500), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("closed_at"),
    CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    CheckConstraint("status IN ('OPENED', 'WON', 'LOST', 'CLOSED')", name="status_known"),
    Index("ix_disputes_payment", "payment_id"),
    # The keyset orders of ListDisputes (migration 0024): newest first, all or by status.
    Index("ix_disputes_listing", "created_at", "id"),
    Index("ix_disputes_status_listing", "status", "created_at", "id"),
)

# The audit trail: append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and
# hash-chained (domain/audit_chain.py). Rows are written to audit_pending in the transaction
# they record; the leased linker chains them into audit_log soon after their commit (migration
# 0017), so `seq` is gapless.
AUDIT_OUTCOMES = "'success','failure','pending'"


def _audit_columns() -> list[Column[Any]]:
    return [
        _ts("occurred_at", nullable=False),
        Column("actor_kind", String(16), nullable=False),
        Column("actor_subject", Text, nullable=False),
        Column("action", String(100), nullable=False),
        Column("resource_type", Text, nullable=False),
        Column("resource_id", Text, nullable=False),
        Column("request_id", Text, nullable=False),
        Column("origin", Text, nullable=False),
        Column("outcome", String(10), nullable=False),
        Column("reason", Text),
        Column("before", JSONB(none_as_null=True)),
        Column("after", JSONB(none_as_null=True)),
    ]


audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", UUID(as_uuid=False), nullable=False, unique=True),
    *_audit_columns(),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint(f"outcome IN ({AUDIT_OUTCOMES})", name="outcome_known"),
    # `audit show`: one resource's history, in order.
    Index("ix_audit_log_resource", "resource_type", "resource_id", "seq"),
)

# Entries written but not chained yet (migration 0017): the linker moves them to audit_log in
# (tx, pos) order. An entry here is its canonical payload (every field, as JSON: the text the
# chain will hash), that payload's SHA-256 taken when it was written (`audit verify` checks it
# while the entry waits), the id of the transaction that wrote it (the linker's horizon) and
# when it was written (chain lag). Narrow, one index: cheap for every audited transaction.
audit_pending = Table(
    "audit_pending",
    metadata,
    Column("tx", BigInteger, primary_key=True, autoincrement=False),
    Column("pos", BigInteger, Identity(always=True, cache=100), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    _ts("inserted_at", nullable=False),
)

# Who links the chain: one row, its holder and when its lease ends (migration 0017).
audit_linker_lease = Table(
    "audit_linker_lease",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("holder", Text, nullable=False),
    _ts("expires_at", nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)

# Exchange rates (domain/fx.py): the newest rate of each pair from each source, as the source
# gave it ("ecb" EUR/xxx, "admin" any pair). `as_of` is when the rate was valid, `fetched_at`
# when this service learnt it. NUMERIC without a scale keeps a rate's digits exactly.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("base_currency", String(3), primary_key=True),
    Column("quote_currency", String(3), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("rate", Numeric, nullable=False),
    _ts("as_of", nullable=False),
    _ts("fetched_at", nullable=False),
    CheckConstraint("rate > 0", name="rate_positive"),
    CheckConstraint("base_currency <> quote_currency", name="two_currencies"),
)

# FX quotes: a rate locked for one conversion until expire_time, for the actor (`owner`, its
# subject) that asked. The mid rate, its source and as_of, and the markup are kept beside the
# rate applied so that a settlement can say where its rate came from.
fx_quotes = Table(
    "fx_quotes",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("source_currency", String(3), nullable=False),
    Column("target_currency", String(3), nullable=False),
    Column("source_amount_minor", BigInteger, nullable=False),
    Column("target_amount_minor", BigInteger, nullable=False),
    Column("rate", Numeric, nullable=False),
    Column("mid_rate", Numeric, nullable=False),
    Column("rate_source", String(64), nullable=False),
    _ts("rate_as_of", nullable=False),
    Column("markup_bps", Integer, nullable=False),
    _ts("created_at", nullable=False),
    _ts("expire_time", nullable=False),
    CheckConstraint("source_amount_minor > 0", name="source_amount_positive"),
    CheckConstraint("target_amount_minor >= 0", name="target_amount_not_negative"),
    # Expired quotes are purged by expiry time.
    Index("ix_fx_quotes_expire_time", "expire_time"),
)


# --- analytics (migration 0026): hourly buckets the projector maintains from the outbox ---


def _count(name: str) -> Column[object]:
    return Column(name, BigInteger, nullable=False, server_default="0")


def _hour() -> Column[object]:
    return Column("hour", DateTime(timezone=True), primary_key=True)


# Authorization outcomes per UTC hour and group (failure_code is '' but for failures).
analytics_payment_hours = Table(
    "analytics_payment_hours",
    metadata,
    _hour(),
    Column("gateway", String(20), primary_key=True),
    Column("payment_method_type", String(30), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("failure_code", String(64), primary_key=True),
    _count("attempts"),
    _count("authorized"),
    _count("captured"),
    _count("failed"),
    _count("retry_attempts"),
    _count("retry_authorized"),
)

# The same figures for the reports' common questions, few rows each: per span ('h' an hour,
# 'd' a UTC day), all payments (dimension '', value '') or one dimension's value (dimension
# gateway, payment_method_type, currency or country), per failure code. 30 days by day
# reads 30 days x values x codes rows instead of 720 hours x every combination.
analytics_payment_slices = Table(
    "analytics_payment_slices",
    metadata,
    Column("span", String(1), primary_key=True),
    Column("dimension", String(24), primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True),
    Column("value", String(30), primary_key=True),
    Column("failure_code", String(64), primary_key=True),
    _count("attempts"),
    _count("authorized"),
    _count("captured"),
    _count("failed"),
    _count("retry_attempts"),
    _count("retry_authorized"),
)

# A UTC day's figures per group of two dimensions or more: `dimensions` names the grouping
# (the kept dimensions in the order gateway, payment_method_type, currency, country, joined
# by ","; the other dimensions' columns are ''), per failure code. Every grouping of two or
# more is kept (11 of them), so 30 days by day split by gateway and currency reads 30 days x
# gateway-currency pairs x codes rows, not 720 hours x every combination.
analytics_payment_days = Table(
    "analytics_payment_days",
    metadata,
    Column("dimensions", String(48), primary_key=True),
    Column("day", DateTime(timezone=True), primary_key=True),
    Column("gateway", String(20), primary_key=True),
    Column("payment_method_type", String(30), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("failure_code", String(64), primary_key=True),
    _count("attempts"),
    _count("authorized"),
    _count("captured"),
    _count("failed"),
    _count("retry_attempts"),
    _count("retry_authorized"),
)

# Money per UTC hour and currency; basis 'payment' (the payment's currency) or 'settlement'.
analytics_revenue_hours = Table(
    "analytics_revenue_hours",
    metadata,
    _hour(),
    Column("basis", String(10), primary_key=True),
    Column("currency", String(3), primary_key=True),
    _count("captured_minor"),
    _count("refunded_minor"),
    _count("disputed_minor"),
    _count("dispute_lost_minor"),
)

# Disputes per UTC hour and currency: opened at the hour, or closed at it (won, lost, other).
analytics_dispute_hours = Table(
    "analytics_dispute_hours",
    metadata,
    _hour(),
    Column("currency", String(3), primary_key=True),
    _count("opened"),
    _count("won"),
    _count("lost"),
    _count("closed"),
    _count("opened_minor"),
    _count("won_minor"),
    _count("lost_minor"),
    _count("closed_minor"),
)

# Payments per status, kept by a trigger on payments (migration 0026): one row per shard, a
# column per status. Each connection changes its own shard's row (its backend pid modulo
# 32), so concurrent commits do not wait on one row, and a status change is one update of
# one row that no index covers (a HOT update). payments_by_status sums the shards.
STATUS_COUNT_COLUMNS = (
    "pending",
    "requires_action",
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "failed",
    "cancelled",
    "under_review",
)
payment_status_counts = Table(
    "payment_status_counts",
    metadata,
    Column("shard", SmallInteger, primary_key=True, autoincrement=False),
    *(
        Column(name, BigInteger, nullable=False, server_default="0")
        for name in STATUS_COUNT_COLUMNS
    ),
)
