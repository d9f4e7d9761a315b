"""The reconciliation report: our payments of a period against the gateway's own records.

Finance finds missing money by comparing two ledgers: every payment we sent to a gateway in
the period must be there with the same amount, captured and refunded amounts and status,
and every record the gateway holds for the period must be one of ours. The comparison is
pure; the gateway's side comes through the `GatewayRecordSource` port (each adapter lists
its own records: Stripe's PaymentIntents and refunds, PayPal's transaction search, the
simulator's ledger), ours from the database.

Statuses are compared on a coarse scale both sides can express: a refunded payment is still
CAPTURED money-wise (its refunds are compared as amounts), and a payment held for review or
waiting for the customer is PENDING. Records are matched by the gateway's id of the payment
(our gateway_payment_id). Creation times differ by the latency of the call, so the gateway
is asked for a wider window (MARGIN) and its records outside the period count only when
they match one of ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.enums import PaymentStatus

MARGIN = timedelta(hours=1)


class RecordStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


_COARSE = {
    PaymentStatus.PENDING: RecordStatus.PENDING,
    PaymentStatus.REQUIRES_ACTION: RecordStatus.PENDING,
    PaymentStatus.UNDER_REVIEW: RecordStatus.PENDING,
    PaymentStatus.AUTHORIZED: RecordStatus.AUTHORIZED,
    PaymentStatus.CAPTURED: RecordStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED: RecordStatus.CAPTURED,
    PaymentStatus.REFUNDED: RecordStatus.CAPTURED,
    PaymentStatus.FAILED: RecordStatus.FAILED,
    PaymentStatus.CANCELLED: RecordStatus.CANCELLED,
}


def coarse_status(status: PaymentStatus) -> RecordStatus:
    return _COARSE[status]


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One payment as a ledger shows it: ours (payment_id set) or the gateway's. Amounts in
    ISO 4217 minor units of `currency` (each adapter converts from its API's terms)."""

    reference: str  # the gateway's id of the payment (Stripe pi_..., PayPal order id ...)
    currency: str
    amount_minor: int
    captured_minor: int
    refunded_minor: int
    status: RecordStatus
    created_at: datetime | None  # None: the gateway keeps no time (the simulator)
    payment_id: str | None = None


class GatewayRecordSource(Protocol):
    """A gateway's records of the payments created in [start, end), with what was captured
    and refunded on them since (refunds made after `end` included)."""

    # False when the gateway's listing shows only money held or moved (PayPal's transaction
    # search): our payments that never got that far (PENDING, FAILED) are then not expected.
    lists_unsettled: bool

    def records(self, start: datetime, end: datetime) -> AsyncIterator[PaymentRecord]: ...


@dataclass(frozen=True, slots=True)
class Difference:
    field: str  # amount_minor, currency, captured_minor, refunded_minor, status
    ours: str
    theirs: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    ours: PaymentRecord
    theirs: PaymentRecord
    differences: tuple[Difference, ...]


@dataclass
class ReconciliationReport:
    start: datetime
    end: datetime
    matched: list[PaymentRecord] = field(default_factory=list)
    missing_here: list[PaymentRecord] = field(default_factory=list)  # the gateway's only
    missing_at_gateway: list[PaymentRecord] = field(default_factory=list)  # ours only
    mismatched: list[Mismatch] = field(default_factory=list)

    @property
    def all_match(self) -> bool:
        return not (self.missing_here or self.missing_at_gateway or self.mismatched)


_COMPARED = ("currency", "amount_minor", "captured_minor", "refunded_minor", "status")


def differences(ours: PaymentRecord, theirs: PaymentRecord) -> tuple[Difference, ...]:
    found = []
    for name in _COMPARED:
        mine, its = getattr(ours, name), getattr(theirs, name)
        if mine != its:
            found.append(Difference(name, str(mine), str(its)))
    return tuple(found)


def expected_at(source: GatewayRecordSource, ours: Iterable[PaymentRecord]) -> list[PaymentRecord]:
    """Those of our payments the gateway's listing should show."""
    if source.lists_unsettled:
        return list(ours)
    unsettled = (RecordStatus.PENDING, RecordStatus.FAILED)
    return [record for record in ours if record.status not in unsettled]


def _in_period(record: PaymentRecord, start: datetime, end: datetime) -> bool:
    return record.created_at is None or start <= record.created_at < end


def reconcile(
    ours: Iterable[PaymentRecord],
    theirs: Iterable[PaymentRecord],
    start: datetime,
    end: datetime,
) -> ReconciliationReport:
    """`ours`: our payments of [start, end) that reached the gateway; `theirs`: the gateway's
    records of [start - MARGIN, end + MARGIN)."""
    report = ReconciliationReport(start, end)
    by_reference = {record.reference: record for record in theirs}
    for mine in ours:
        its = by_reference.pop(mine.reference, None)
        if its is None:
            report.missing_at_gateway.append(mine)
        elif found := differences(mine, its):
            report.mismatched.append(Mismatch(mine, its, found))
        else:
            report.matched.append(mine)
    # What is left is not ours, or ours from just outside the period (the margin).
    report.missing_here = [r for r in by_reference.values() if _in_period(r, start, end)]
    return report
