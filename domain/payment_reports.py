"""Facts a gateway reports through webhooks, applied to a Payment.

Webhooks arrive late, twice and out of order. Each report is a no-op (False, or None) when
the payment is already at or beyond the reported state; it only ever advances along
TRANSITIONS, through the aggregate's own record_* transitions - so with the same domain events
as the API path. While an API operation is open, the report is left to that operation (or
the reconciler), which settles it with the gateway's own answer.
"""

from __future__ import annotations

from datetime import datetime

from domain import payment_operations as operations
from domain.enums import NextActionType, TransactionType
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus
from domain.money import Money
from domain.payment import Payment
from domain.payment_states import AUTHORIZABLE, REFUNDABLE, VOID_AT_GATEWAY, S
from domain.transaction import Transaction


def authorized(
    payment: Payment, *, reference: str | None, now: datetime, transaction_id: str, event_id: str
) -> bool:
    if payment.status not in AUTHORIZABLE | {S.REQUIRES_ACTION}:
        return False
    txn = payment.begin_reported(TransactionType.AUTHORIZATION, payment.amount, transaction_id, now)
    if txn is None:
        return False
    outcome = GatewayOutcome.succeeded(reference or payment.gateway_payment_id or "")
    # Keep the payment's gateway id (an authorization id is not the order / intent).
    known = payment.gateway_payment_id
    payment.record_authorization(txn.id, outcome, now, event_id)
    payment.gateway_payment_id = known or outcome.reference
    return True


def captured(
    payment: Payment,
    *,
    amount_minor: int | None,
    reference: str | None,
    now: datetime,
    transaction_ids: tuple[str, str],
    event_ids: tuple[str, str],
) -> bool:
    """A capture reported before the authorization was (a bank transfer that arrived, a
    payment captured at the gateway's dashboard) authorizes first: two events, two ids."""
    if payment.status in AUTHORIZABLE | {S.REQUIRES_ACTION} and not authorized(
        payment, reference=None, now=now, transaction_id=transaction_ids[0], event_id=event_ids[0]
    ):
        return False
    if payment.status is not S.AUTHORIZED:
        return False  # already captured (or refunded / cancelled): never backwards
    held = payment.amounts.authorized
    wanted = held.amount_minor if amount_minor is None else amount_minor
    amount = Money(max(1, min(wanted, held.amount_minor)), payment.currency)
    txn = payment.begin_reported(TransactionType.CAPTURE, amount, transaction_ids[1], now)
    if txn is None:
        return False
    payment.record_capture(txn.id, GatewayOutcome.succeeded(reference or ""), now, event_ids[1])
    return True


def failed(
    payment: Payment,
    *,
    code: str,
    reason: str,
    now: datetime,
    transaction_id: str,
    event_id: str,
) -> bool:
    if payment.status not in (S.PENDING, S.REQUIRES_ACTION):
        return False
    txn = payment.begin_reported(TransactionType.AUTHORIZATION, payment.amount, transaction_id, now)
    if txn is None:
        return False
    payment.fail_authorization(txn.id, code, reason, now, event_id)
    return True


def requires_action(
    payment: Payment,
    *,
    url: str,
    now: datetime,
    transaction_id: str,
    event_id: str,
    action: NextAction | None = None,
) -> bool:
    """`action`: the next action in full when the gateway describes it (bank-transfer
    instructions); while the payment already waits, newer instructions replace the old."""
    if payment.status is S.REQUIRES_ACTION and action is not None:
        return payment.show_newer_instructions(action, now)
    if payment.status not in AUTHORIZABLE:
        return False
    txn = payment.begin_reported(TransactionType.AUTHORIZATION, payment.amount, transaction_id, now)
    if txn is None:
        return False
    if action is None and url:
        action = NextAction(NextActionType.REDIRECT_TO_URL, url)
    outcome = GatewayOutcome(OutcomeStatus.REQUIRES_ACTION, next_action=action)
    payment.record_authorization(txn.id, outcome, now, event_id)
    return True


def cancelled(
    payment: Payment, *, reason: str, now: datetime, transaction_id: str, event_id: str
) -> bool:
    if payment.status not in AUTHORIZABLE | VOID_AT_GATEWAY:
        return False
    amount = payment.amounts.voidable
    txn = payment.begin_reported(TransactionType.VOID, amount, transaction_id, now)
    if txn is None:
        return False
    payment.cancellation_reason = payment.cancellation_reason or reason
    payment.record_void(txn.id, GatewayOutcome.succeeded(""), now, event_id)
    return True


def refunded(
    payment: Payment,
    *,
    reference: str | None,
    amount_minor: int,
    now: datetime,
    transaction_id: str,
    refund_id: str,
    event_id: str,
) -> Transaction | None:
    """A refund made at the gateway; the REFUND transaction it added, or None. A known
    `reference` (refund id) is applied once only."""
    if payment.status not in REFUNDABLE or operations.open_of(
        payment.transactions, TransactionType.REFUND
    ):
        return None
    if reference and any(t.gateway_transaction_id == reference for t in payment.transactions):
        return None
    amount = min(Money(amount_minor, payment.currency), payment.refundable)
    if not amount.is_positive:
        return None
    txn = payment.begin_reported(
        TransactionType.REFUND,
        amount,
        transaction_id,
        now,
        refund_id,
        require_idle=False,
    )
    assert txn is not None
    payment.record_refund(txn.id, GatewayOutcome.succeeded(reference or ""), now, event_id)
    return txn
