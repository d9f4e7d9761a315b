"""The money events of a Payment, with the settlement fields beside the amounts: built from
the aggregate and the transaction that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.events import (
    PaymentAuthorized,
    PaymentCancelled,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequiresReview,
    PaymentSucceeded,
)
from domain.money import Money
from domain.transaction import Transaction

if TYPE_CHECKING:
    from domain.payment import Payment


def _settlement(txn: Transaction) -> Money:
    assert txn.settlement_amount is not None
    return txn.settlement_amount


def authorized(p: Payment, txn: Transaction, now: datetime, event_id: str) -> PaymentAuthorized:
    return PaymentAuthorized(
        event_id, p.id, p.order_id, now,
        amount=txn.amount,
        payment_method_type=p.payment_method_type,
        transaction_id=txn.id,
        settlement=p.settles.convert(txn.amount),
        exchange_rate=p.settles.rate,
    )  # fmt: skip


def succeeded(p: Payment, txn: Transaction, now: datetime, event_id: str) -> PaymentSucceeded:
    return PaymentSucceeded(
        event_id, p.id, p.order_id, now,
        amount=txn.amount,
        payment_method_type=p.payment_method_type,
        transaction_id=txn.id,
        settlement=_settlement(txn),
        exchange_rate=p.settles.rate,
    )  # fmt: skip


def failed(p: Payment, now: datetime, event_id: str) -> PaymentFailed:
    reason, code = p.failure_reason or "", p.failure_code or ""
    return PaymentFailed(event_id, p.id, p.order_id, now, reason, code, p.retry_count)


def cancelled(p: Payment, now: datetime, event_id: str) -> PaymentCancelled:
    return PaymentCancelled(event_id, p.id, p.order_id, now, p.cancellation_reason)


def requires_review(p: Payment, now: datetime, event_id: str) -> PaymentRequiresReview:
    assert p.risk.assessment is not None
    return PaymentRequiresReview(event_id, p.id, p.order_id, now, p.risk.assessment.rules_hit)


def refunded(p: Payment, txn: Transaction, now: datetime, event_id: str) -> PaymentRefunded:
    assert txn.refund_id is not None
    return PaymentRefunded(
        event_id, p.id, p.order_id, now,
        refund_id=txn.refund_id, amount=txn.amount, transaction_id=txn.id,
        settlement=_settlement(txn), exchange_rate=p.settles.rate,
    )  # fmt: skip
