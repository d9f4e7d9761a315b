"""What a payment's disputes amount to, as the payment shows it (disputed_amount_minor,
dispute_status) and as its net amount counts it (a lost dispute's money is gone).

Kept on the payment row and recomputed from the payment's disputes whenever one of them
changes (a webhook), so reading a payment costs no extra query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.dispute import Dispute, DisputeStatus
from domain.money import Money


@dataclass(frozen=True, slots=True)
class PaymentDisputes:
    # Every dispute's amount, open or closed: what cardholders have contested.
    disputed: Money
    # The amounts of the disputes lost: taken back from the merchant.
    lost: Money
    # OPENED while any dispute is open, else the status of the latest one to close.
    status: DisputeStatus

    @classmethod
    def of(cls, disputes: Iterable[Dispute], currency: str) -> PaymentDisputes | None:
        """None for a payment never disputed."""
        found = sorted(disputes, key=lambda d: (d.closed_at or d.updated_at, d.created_at, d.id))
        if not found:
            return None
        zero = Money.zero(currency)
        disputed = sum((d.amount for d in found), zero)
        lost = sum((d.amount for d in found if d.is_lost), zero)
        status = DisputeStatus.OPENED if any(not d.is_closed for d in found) else found[-1].status
        return cls(disputed, lost, status)
