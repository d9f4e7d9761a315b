"""The simulator's records of a period, for the reconciliation report: the charges in its
ledger (kept in PostgreSQL with SIMULATOR_LEDGER=database), as the gateway's books."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from domain.reconciliation_report import PaymentRecord, RecordStatus
from infra.gateways.simulator_ledger import SimulatedCharge, SqlLedger

_STATUSES = {
    "authorized": RecordStatus.AUTHORIZED,
    "requires_action": RecordStatus.PENDING,
    "captured": RecordStatus.CAPTURED,
    "voided": RecordStatus.CANCELLED,
    "declined": RecordStatus.FAILED,
}


def charge_record(charge: SimulatedCharge) -> PaymentRecord:
    return PaymentRecord(
        reference=charge.reference,
        currency=charge.currency,
        amount_minor=charge.amount_minor,
        captured_minor=charge.captured_minor,
        refunded_minor=charge.refunded_minor,
        status=_STATUSES.get(charge.status, RecordStatus.PENDING),
        created_at=datetime.fromisoformat(charge.created_at) if charge.created_at else None,
    )


class SimulatorRecordSource:
    lists_unsettled = True  # declined and waiting payments are listed too

    def __init__(self, ledger: SqlLedger) -> None:
        self._ledger = ledger

    async def records(self, start: datetime, end: datetime) -> AsyncIterator[PaymentRecord]:
        # The simulator has no index by time: its (test-sized) book is read whole. Charges
        # without a time are left out rather than reported as missing from every period.
        async for charge in self._ledger.all_charges():
            record = charge_record(charge)
            if record.created_at is not None and start <= record.created_at < end:
                yield record
