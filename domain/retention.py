"""Data retention: how long each kind of personal data is kept, and the loop that enforces
it in small batches (docs/operations.md "Data retention").

What goes and what stays after PERSONAL_DATA_RETENTION_DAYS: a payment keeps its amounts,
currency, statuses, timestamps, gateway references, transactions, refunds' amounts and its
user id (a pseudonymous reference owned by the user service, which the audit trail also
holds); it loses its metadata, description, cancellation reason, return URL, country,
gateway token and customer id, and its refunds' reasons and requesters. A saved method
deleted that long ago loses its PayPal e-mail, customer id, token, last4 and expiry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

# PCI DSS 10.5.1: audit history is retained for at least twelve months.
MIN_AUDIT_RETENTION = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    webhook_payloads: timedelta
    personal_data: timedelta
    # Stated here so that it is checked in one place; audit rows are never deleted by this
    # job (the audit log's own tooling honours it).
    audit_log: timedelta
    batch_size: int

    def __post_init__(self) -> None:
        if self.audit_log < MIN_AUDIT_RETENTION:
            raise ValueError("audit logs are kept at least 365 days (PCI DSS 10.5.1)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")


class RetentionStore(Protocol):
    """Each call handles at most `limit` rows in one short transaction, skipping rows that
    another transaction holds (a running request, another replica's batch), and returns how
    many it changed. Rows already handled are never counted again."""

    async def drop_webhook_payloads(self, received_before: datetime, limit: int) -> int: ...

    async def anonymise_payments(self, created_before: datetime, now: datetime, limit: int) -> int:
        """Also the refunds of those payments."""

    async def anonymise_deleted_payment_methods(
        self, deleted_before: datetime, now: datetime, limit: int
    ) -> int: ...


@dataclass(slots=True)
class RetentionReport:
    webhook_payloads_dropped: int = 0
    payments_anonymised: int = 0
    payment_methods_anonymised: int = 0

    def __bool__(self) -> bool:
        return any(
            (
                self.webhook_payloads_dropped,
                self.payments_anonymised,
                self.payment_methods_anonymised,
            )
        )

    def __str__(self) -> str:
        return (
            f"dropped {self.webhook_payloads_dropped} webhook payloads, anonymised "
            f"{self.payments_anonymised} payments and "
            f"{self.payment_methods_anonymised} deleted payment methods"
        )


async def _drain(batch: Callable[[], Awaitable[int]], limit: int) -> int:
    total = 0
    while (done := await batch()) > 0:
        total += done
        if done < limit:
            break
    return total


async def enforce_retention(
    policy: RetentionPolicy, store: RetentionStore, now: datetime
) -> RetentionReport:
    """One pass over every policy, batch after batch until a batch comes back short."""
    limit = policy.batch_size
    webhook_cutoff = now - policy.webhook_payloads
    personal_cutoff = now - policy.personal_data
    return RetentionReport(
        webhook_payloads_dropped=await _drain(
            lambda: store.drop_webhook_payloads(webhook_cutoff, limit), limit
        ),
        payments_anonymised=await _drain(
            lambda: store.anonymise_payments(personal_cutoff, now, limit), limit
        ),
        payment_methods_anonymised=await _drain(
            lambda: store.anonymise_deleted_payment_methods(personal_cutoff, now, limit), limit
        ),
    )
