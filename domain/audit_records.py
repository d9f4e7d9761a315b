"""What the audit trail may say about each aggregate: allow-listed snapshots, and the changed
fields between two of them (the unit of work's ChangeTracker writes the entries).

Only fields listed here can ever appear in before/after: statuses, amounts, ids, codes,
a card's brand and last four digits. Never a gateway token, a gateway customer id, an e-mail
address, a card expiry, free-form metadata or a description.
"""

from __future__ import annotations

from domain.audit import AuditOutcome, Fields
from domain.dispute import Dispute
from domain.enums import TransactionStatus
from domain.fx import format_rate
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.transaction import Transaction

MAX_FREE_TEXT = 200


def transaction_fields(txn: Transaction) -> Fields:
    return {
        "id": txn.id,
        "type": txn.type.value,
        "status": txn.status.value,
        "amount_minor": txn.amount.amount_minor,
        "failure_code": txn.failure_code,
        "settlement_amount_minor": (
            txn.settlement_amount.amount_minor if txn.settlement_amount else None
        ),
    }


def payment_fields(payment: Payment, txn: Transaction | None = None) -> Fields:
    """The payment as the trail sees it; with `txn`, the gateway operation concerned."""
    amounts = payment.amounts
    fields: Fields = {
        "order_id": payment.order_id,
        "user_id": payment.user_id,
        "status": payment.status.value,
        "amount_minor": payment.amount.amount_minor,
        "currency": payment.currency,
        "authorized_minor": amounts.authorized.amount_minor,
        "captured_minor": amounts.captured.amount_minor,
        "refunded_minor": amounts.refunded.amount_minor,
        "gateway": payment.gateway.value,
        "payment_method_type": payment.payment_method_type.value,
        "payment_method_id": payment.payment_method_id,
        "failure_code": payment.failure_code,
        "retry_count": payment.retry_count,
        "settlement_currency": payment.settles.currency,
        "settlement_amount_minor": payment.settlement_amount.amount_minor,
        "exchange_rate": format_rate(payment.settles.rate),
        "captured_settlement_minor": amounts.captured_settlement.amount_minor,
        "refunded_settlement_minor": amounts.refunded_settlement.amount_minor,
    }
    authentication = payment.authentication
    if authentication.sca_exemption is not None or authentication.liability_shift is not None:
        # PSD2: who asked for which exemption, what went to the gateway, who carries fraud.
        exemption = authentication.sca_exemption
        fields |= {
            "sca_exemption": exemption.value if exemption else None,
            "sca_exemption_sent": authentication.sca_exemption_sent,
            "sca_exemption_applied": authentication.sca_exemption_applied,
            "liability_shift": authentication.liability_shift,
        }
    if payment.disputes is not None:
        fields |= {
            "disputed_minor": payment.disputes.disputed.amount_minor,
            "dispute_lost_minor": payment.disputes.lost.amount_minor,
            "dispute_status": payment.disputes.status.value,
        }
    if txn is not None:
        fields["transaction"] = transaction_fields(txn)
    return fields


def refund_fields(refund: Refund) -> Fields:
    return {
        "payment_id": refund.payment_id,
        "transaction_id": refund.transaction_id,
        "amount_minor": refund.amount.amount_minor,
        "currency": refund.amount.currency,
        "status": refund.status.value,
        "failure_code": refund.failure_code,
        "reason": refund.reason[:MAX_FREE_TEXT],
        "requested_by": refund.requested_by[:MAX_FREE_TEXT],
    }


def payment_method_fields(method: PaymentMethod) -> Fields:
    return {
        "user_id": method.user_id,
        "type": method.type.value,
        "gateway": method.gateway.value,
        "card_brand": method.card_brand,
        "card_last4": method.card_last4,
        "is_default": method.is_default,
        "deleted": method.is_deleted,
    }


def dispute_fields(dispute: Dispute) -> Fields:
    return {
        "payment_id": dispute.payment_id,
        "status": dispute.status.value,
        "amount_minor": dispute.amount.amount_minor,
        "currency": dispute.amount.currency,
    }


def changes(before: Fields | None, after: Fields) -> tuple[Fields | None, Fields]:
    """(before, after) restricted to the fields that differ; a creation (no `before`) keeps
    every field of `after`."""
    if before is None:
        return None, dict(after)
    keys = [k for k in after.keys() | before.keys() if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def outcome_of(txn: Transaction) -> tuple[AuditOutcome, str | None]:
    """A gateway operation as an outcome: declined or unreachable is a failure with its code;
    unknown, 3-D Secure or still waiting is pending."""
    if txn.status is TransactionStatus.SUCCEEDED:
        return AuditOutcome.SUCCESS, None
    if txn.status is TransactionStatus.FAILED:
        return AuditOutcome.FAILURE, txn.failure_code or "FAILED"
    return AuditOutcome.PENDING, txn.failure_code
