"""A refund request and its progress: PENDING until the gateway answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import RefundStatus
from domain.errors import InvalidStateTransition
from domain.money import Money

REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.PROCESSED, RefundStatus.FAILED}),
    RefundStatus.PROCESSED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}


@dataclass(slots=True)
class Refund:
    id: str
    payment_id: str
    transaction_id: str
    amount: Money
    reason: str
    requested_by: str
    requested_at: datetime
    created_at: datetime
    status: RefundStatus = RefundStatus.PENDING
    gateway_refund_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    processed_at: datetime | None = None
    # Once processed: in the payment's settlement currency (its REFUND transaction's).
    settlement_amount: Money | None = None

    def _move_to(self, target: RefundStatus) -> None:
        if target not in REFUND_TRANSITIONS[self.status]:
            raise InvalidStateTransition(
                f"a {self.status.value} refund cannot become {target.value}",
                metadata={"refund_id": self.id, "status": self.status.value},
            )
        self.status = target

    def mark_processed(
        self, gateway_refund_id: str | None, now: datetime, settlement_amount: Money | None = None
    ) -> None:
        self._move_to(RefundStatus.PROCESSED)
        self.gateway_refund_id = gateway_refund_id
        self.settlement_amount = settlement_amount
        self.processed_at = now

    def mark_failed(self, code: str, reason: str, now: datetime) -> None:
        self._move_to(RefundStatus.FAILED)
        self.failure_code, self.failure_reason = code, reason
        self.processed_at = now
