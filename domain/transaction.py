"""One gateway operation on a payment: the intent first, the gateway's answer later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import TransactionStatus, TransactionType
from domain.errors import InvalidStateTransition
from domain.money import Money


@dataclass(slots=True)
class Transaction:
    id: str
    payment_id: str
    type: TransactionType
    amount: Money
    status: TransactionStatus
    # Sent to the gateway as its idempotency key: one logical operation, at most one effect.
    idempotency_key: str
    created_at: datetime
    refund_id: str | None = None
    gateway_transaction_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    completed_at: datetime | None = None
    # A succeeded capture or refund in the payment's settlement currency.
    settlement_amount: Money | None = None

    @classmethod
    def begin(
        cls,
        *,
        transaction_id: str,
        payment_id: str,
        type: TransactionType,
        amount: Money,
        now: datetime,
        refund_id: str | None = None,
    ) -> Transaction:
        return cls(
            id=transaction_id,
            payment_id=payment_id,
            type=type,
            amount=amount,
            status=TransactionStatus.PENDING,
            idempotency_key=f"payments-{transaction_id}",
            created_at=now,
            refund_id=refund_id,
        )

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def settle(
        self,
        status: TransactionStatus,
        now: datetime,
        *,
        gateway_transaction_id: str | None = None,
        failure_code: str | None = None,
        failure_reason: str | None = None,
    ) -> None:
        if not self.is_open:
            raise InvalidStateTransition(
                f"transaction {self.id} is already {self.status.value}",
                metadata={"transaction_id": self.id, "status": self.status.value},
            )
        self.status = status
        if gateway_transaction_id:
            self.gateway_transaction_id = gateway_transaction_id
        self.failure_code = failure_code
        self.failure_reason = failure_reason
        if status is not TransactionStatus.UNKNOWN:
            self.completed_at = now
