"""Every encrypted column, where its values' places come from, and the blind indexes
computed from them: what `rotate-keys` walks and what the key usage report counts. Adding an
encrypted column to tables.py means adding it here too (a test compares the two)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from infra.db.idempotency import answer_place
from infra.db.mappers import method_place, payment_place, refund_reason_place
from infra.db.sealing import (
    PAYPAL_EMAIL,
    Place,
    gateway_customer_purpose,
    normalise_email,
)
from infra.db.tables import idempotency_keys, payment_methods, payments, refunds, webhook_events
from infra.db.webhooks import webhook_payload_place

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class BlindIndexColumn:
    column: str
    source: str
    # (row, plaintext of the source) -> (purpose, value to digest), as the mappers compute it.
    digest_input: Callable[[Row, str], tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class EncryptedTable:
    table: Table
    columns: tuple[str, ...]
    place: Callable[[Row, str], Place]
    blind_indexes: tuple[BlindIndexColumn, ...] = ()

    @property
    def name(self) -> str:
        return self.table.name


ENCRYPTED_TABLES = (
    EncryptedTable(
        payments,
        ("metadata", "description", "gateway_customer_id", "cancellation_reason"),
        lambda row, column: payment_place(row["id"], column),
    ),
    EncryptedTable(
        payment_methods,
        ("paypal_email", "gateway_customer_id"),
        lambda row, column: method_place(row["id"], column),
        (
            BlindIndexColumn(
                "paypal_email_bidx",
                "paypal_email",
                lambda row, email: (PAYPAL_EMAIL, normalise_email(email)),
            ),
            BlindIndexColumn(
                "gateway_customer_bidx",
                "gateway_customer_id",
                lambda row, customer: (gateway_customer_purpose(row["gateway"]), customer),
            ),
        ),
    ),
    EncryptedTable(refunds, ("reason",), lambda row, column: refund_reason_place(row["id"])),
    EncryptedTable(
        webhook_events,
        ("payload",),
        lambda row, column: webhook_payload_place(row["gateway"], row["event_id"]),
    ),
    EncryptedTable(
        idempotency_keys,
        ("answer_body",),
        lambda row, column: answer_place(row["caller"], row["method"], row["key"]),
    ),
)
