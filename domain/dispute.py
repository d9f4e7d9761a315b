"""A chargeback: the cardholder (or buyer) disputes a payment at the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.enums import GatewayName
from domain.events import DomainEvent, PaymentDisputeClosed, PaymentDisputed
from domain.money import Money


class DisputeStatus(StrEnum):
    OPENED = "OPENED"
    WON = "WON"
    LOST = "LOST"
    CLOSED = "CLOSED"


# A closed dispute stays closed: a late "created" event must not reopen it.
_FINAL = frozenset({DisputeStatus.WON, DisputeStatus.LOST, DisputeStatus.CLOSED})


def closing_status(gateway_status: str) -> DisputeStatus:
    """The outcome a gateway reports when a dispute ends (won / lost / anything else)."""
    word = gateway_status.lower()
    if "won" in word or "seller_favour" in word or "seller_favor" in word:
        return DisputeStatus.WON
    if "lost" in word or "buyer_favour" in word or "buyer_favor" in word:
        return DisputeStatus.LOST
    return DisputeStatus.CLOSED


@dataclass(slots=True)
class Dispute:
    id: str
    payment_id: str
    gateway: GatewayName
    gateway_dispute_id: str
    amount: Money
    reason: str
    status: DisputeStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list)

    @property
    def is_closed(self) -> bool:
        return self.status in _FINAL

    @property
    def is_lost(self) -> bool:
        return self.status is DisputeStatus.LOST

    def record_opened(self, order_id: str, event_id: str) -> None:
        """payment.disputed, once, when the dispute is first stored."""
        self.events.append(
            PaymentDisputed(
                event_id, self.payment_id, order_id, self.created_at,
                dispute_id=self.id, amount=self.amount, reason=self.reason,
                status=DisputeStatus.OPENED.value, gateway=self.gateway.value,
            )
        )  # fmt: skip

    def close(self, outcome: DisputeStatus, now: datetime, order_id: str, event_id: str) -> bool:
        """Idempotent: closing a closed dispute again changes nothing (and says False)."""
        if self.is_closed or outcome not in _FINAL:
            return False
        self.status = outcome
        self.closed_at = self.updated_at = now
        self.events.append(
            PaymentDisputeClosed(
                event_id, self.payment_id, order_id, now,
                dispute_id=self.id, amount=self.amount, reason=self.reason,
                status=outcome.value, gateway=self.gateway.value,
                outcome=outcome.value, closed_at=now,
            )
        )  # fmt: skip
        return True

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events
