"""The one place where rows become domain objects and back - and where sensitive columns are
sealed on the way in and opened on the way out (infra/db/sealing.py)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.dispute import DisputeStatus
from domain.enums import (
    GatewayName,
    PaymentMethodType,
    PaymentStatus,
    RefundStatus,
    ScaExemption,
    TransactionStatus,
    TransactionType,
)
from domain.money import Money
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_authentication import Authentication
from domain.payment_disputes import PaymentDisputes
from domain.payment_method import PaymentMethod
from domain.payment_risk import PaymentRisk
from domain.payment_times import PaymentTimes
from domain.refund import Refund
from domain.settlement import Settlement
from domain.transaction import Transaction
from infra.currency import iso_exponent
from infra.db.next_action import next_action_columns, next_action_from_columns
from infra.db.risk_rows import review_from_row, risk_from_row, risk_to_row
from infra.db.sealing import (
    PAYPAL_EMAIL,
    Place,
    Sealer,
    gateway_customer_purpose,
    normalise_email,
)

Row = Mapping[Any, Any]


def payment_place(payment_id: str, column: str) -> Place:
    return Place("payments", column, payment_id)


def method_place(method_id: str, column: str) -> Place:
    return Place("payment_methods", column, method_id)


def refund_reason_place(refund_id: str) -> Place:
    return Place("refunds", "reason", refund_id)


def _settled(row: Row) -> Money | None:
    """The row's settlement_amount_minor and settlement_currency, when it has them."""
    if row["settlement_currency"] is None:
        return None
    return Money(row["settlement_amount_minor"], row["settlement_currency"])


def settlement_from_row(row: Row) -> Settlement | None:
    """None for a payment from before revision 0019 (settled in its own currency)."""
    currency = row["settlement_currency"]
    if currency is None:
        return None
    return Settlement(
        currency=currency,
        rate=Decimal(row["exchange_rate"]),
        source=row["exchange_rate_source"],
        as_of=row["exchange_rate_as_of"],
        presentment_exponent=iso_exponent(row["currency"]) or 0,
        exponent=iso_exponent(currency) or 0,
        markup_bps=row["fx_markup_bps"] or 0,
        fx_quote_id=row["fx_quote_id"],
    )


def settlement_to_row(payment: Payment) -> dict[str, Any]:
    settles = payment.settles
    return {
        "settlement_currency": settles.currency,
        "settlement_amount_minor": payment.settlement_amount.amount_minor,
        "exchange_rate": settles.rate,
        "exchange_rate_source": settles.source,
        "exchange_rate_as_of": settles.as_of,
        "fx_markup_bps": settles.markup_bps,
        "fx_quote_id": settles.fx_quote_id,
        "captured_settlement_minor": payment.amounts.captured_settlement.amount_minor,
        "refunded_settlement_minor": payment.amounts.refunded_settlement.amount_minor,
    }


def disputes_from_row(row: Row) -> PaymentDisputes | None:
    status = row["dispute_status"]
    if status is None:
        return None
    currency = row["currency"]
    return PaymentDisputes(
        disputed=Money(row["disputed_minor"], currency),
        lost=Money(row["dispute_lost_minor"], currency),
        status=DisputeStatus(status),
    )


def disputes_to_row(disputes: PaymentDisputes | None) -> dict[str, Any]:
    if disputes is None:
        return {"disputed_minor": 0, "dispute_lost_minor": 0, "dispute_status": None}
    return {
        "disputed_minor": disputes.disputed.amount_minor,
        "dispute_lost_minor": disputes.lost.amount_minor,
        "dispute_status": disputes.status.value,
    }


def transaction_from_row(row: Row) -> Transaction:
    return Transaction(
        id=row["id"],
        payment_id=row["payment_id"],
        type=TransactionType(row["type"]),
        amount=Money(row["amount_minor"], row["currency"]),
        status=TransactionStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        refund_id=row["refund_id"],
        gateway_transaction_id=row["gateway_transaction_id"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        completed_at=row["completed_at"],
        settlement_amount=_settled(row),
    )


def transaction_to_row(txn: Transaction) -> dict[str, Any]:
    return {
        "id": txn.id,
        "payment_id": txn.payment_id,
        "type": txn.type.value,
        "status": txn.status.value,
        "amount_minor": txn.amount.amount_minor,
        "currency": txn.amount.currency,
        "idempotency_key": txn.idempotency_key,
        "refund_id": txn.refund_id,
        "gateway_transaction_id": txn.gateway_transaction_id,
        "failure_code": txn.failure_code,
        "failure_reason": txn.failure_reason,
        "created_at": txn.created_at,
        "completed_at": txn.completed_at,
        "settlement_amount_minor": _minor(txn.settlement_amount),
        "settlement_currency": _currency(txn.settlement_amount),
    }


def _minor(money: Money | None) -> int | None:
    return money.amount_minor if money is not None else None


def _currency(money: Money | None) -> str | None:
    return money.currency if money is not None else None


def amounts_from_row(row: Row, settlement: Settlement | None) -> PaymentAmounts:
    def money(column: str) -> Money:
        return Money(row[column], currency)

    currency = row["currency"]
    if settlement is None:  # before revision 0019 every amount settled as it was
        captured_settlement, refunded_settlement = money("captured_minor"), money("refunded_minor")
    else:
        captured_settlement = Money(row["captured_settlement_minor"], settlement.currency)
        refunded_settlement = Money(row["refunded_settlement_minor"], settlement.currency)
    return PaymentAmounts(
        amount=money("amount_minor"),
        authorized=money("authorized_minor"),
        captured=money("captured_minor"),
        refunded=money("refunded_minor"),
        captured_settlement=captured_settlement,
        refunded_settlement=refunded_settlement,
    )


def payment_from_row(row: Row, txns: list[Transaction], sealer: Sealer) -> Payment:
    def opened(column: str) -> str:
        return sealer.open_text(row[column], payment_place(row["id"], column)) or ""

    next_action = next_action_from_columns(row["next_action_type"], row["next_action_url"])
    settlement = settlement_from_row(row)
    return Payment(
        id=row["id"],
        order_id=row["order_id"],
        user_id=row["user_id"],
        amounts=amounts_from_row(row, settlement),
        payment_method_type=PaymentMethodType(row["payment_method_type"]),
        gateway=GatewayName(row["gateway"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        payment_method_id=row["payment_method_id"],
        payment_method_token=row["payment_method_token"],
        gateway_customer_id=opened("gateway_customer_id") or None,
        description=opened("description"),
        metadata=dict(
            sealer.open_json(row["metadata"], payment_place(row["id"], "metadata")) or {}
        ),
        status=PaymentStatus(row["status"]),
        gateway_payment_id=row["gateway_payment_id"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        retry_count=row["retry_count"],
        next_action=next_action,
        times=PaymentTimes(
            authorized_at=row["authorized_at"],
            captured_at=row["captured_at"],
            failed_at=row["failed_at"],
            cancelled_at=row["cancelled_at"],
            refunded_at=row["refunded_at"],
        ),
        cancellation_reason=opened("cancellation_reason"),
        authentication=Authentication(
            return_url=row["return_url"],
            sca_exemption=ScaExemption(row["sca_exemption"]) if row["sca_exemption"] else None,
            liability_shift=row["liability_shift"],
            sca_exemption_sent=row["sca_exemption_sent"],
            sca_exemption_applied=row["sca_exemption_applied"],
        ),
        capture_on_authorization=row["capture_on_authorization"],
        country=row["country"],
        risk=PaymentRisk(risk_from_row(row), review_from_row(row)),
        settlement=settlement,
        disputes=disputes_from_row(row),
        version=row["version"],
        transactions=txns,
    )


def payment_to_row(payment: Payment, sealer: Sealer) -> dict[str, Any]:
    """Every column but `version`, which the repository manages."""

    def sealed(column: str, value: str | None) -> bytes | None:
        return sealer.seal_text(value, payment_place(payment.id, column))

    authentication, times = payment.authentication, payment.times
    exemption = authentication.sca_exemption
    return (
        {
            "id": payment.id,
            "order_id": payment.order_id,
            "user_id": payment.user_id,
            "amount_minor": payment.amount.amount_minor,
            "currency": payment.amount.currency,
            "status": payment.status.value,
            "payment_method_type": payment.payment_method_type.value,
            "payment_method_id": payment.payment_method_id,
            "payment_method_token": payment.payment_method_token,
            "gateway_customer_id": sealed("gateway_customer_id", payment.gateway_customer_id),
            "gateway": payment.gateway.value,
            "gateway_payment_id": payment.gateway_payment_id,
            "description": sealed("description", payment.description),
            "metadata": sealer.seal_json(payment.metadata, payment_place(payment.id, "metadata")),
            "authorized_minor": payment.amounts.authorized.amount_minor,
            "captured_minor": payment.amounts.captured.amount_minor,
            "refunded_minor": payment.amounts.refunded.amount_minor,
            "failure_code": payment.failure_code,
            "failure_reason": payment.failure_reason,
            "retry_count": payment.retry_count,
            **next_action_columns(payment.next_action),
            "cancellation_reason": sealed("cancellation_reason", payment.cancellation_reason),
            "return_url": authentication.return_url,
            "sca_exemption": exemption.value if exemption else None,
            "liability_shift": authentication.liability_shift,
            "sca_exemption_sent": authentication.sca_exemption_sent,
            "sca_exemption_applied": authentication.sca_exemption_applied,
            "capture_on_authorization": payment.capture_on_authorization,
            "country": payment.country,
            "created_at": payment.created_at,
            "updated_at": payment.updated_at,
            "authorized_at": times.authorized_at,
            "captured_at": times.captured_at,
            "failed_at": times.failed_at,
            "cancelled_at": times.cancelled_at,
            "refunded_at": times.refunded_at,
        }
        | risk_to_row(payment.risk.assessment, payment.risk.review)
        | settlement_to_row(payment)
        | disputes_to_row(payment.disputes)
    )


def refund_from_row(row: Row, sealer: Sealer) -> Refund:
    return Refund(
        id=row["id"],
        payment_id=row["payment_id"],
        transaction_id=row["transaction_id"],
        amount=Money(row["amount_minor"], row["currency"]),
        reason=sealer.open_text(row["reason"], refund_reason_place(row["id"])) or "",
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        created_at=row["created_at"],
        status=RefundStatus(row["status"]),
        gateway_refund_id=row["gateway_refund_id"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        processed_at=row["processed_at"],
        settlement_amount=_settled(row),
    )


def refund_to_row(refund: Refund, sealer: Sealer) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "transaction_id": refund.transaction_id,
        "amount_minor": refund.amount.amount_minor,
        "currency": refund.amount.currency,
        "reason": sealer.seal_text(refund.reason, refund_reason_place(refund.id)),
        "status": refund.status.value,
        "gateway_refund_id": refund.gateway_refund_id,
        "failure_code": refund.failure_code,
        "failure_reason": refund.failure_reason,
        "requested_by": refund.requested_by,
        "requested_at": refund.requested_at,
        "processed_at": refund.processed_at,
        "created_at": refund.created_at,
        "settlement_amount_minor": _minor(refund.settlement_amount),
        "settlement_currency": _currency(refund.settlement_amount),
    }


def method_from_row(row: Row, sealer: Sealer) -> PaymentMethod:
    def opened(column: str) -> str | None:
        return sealer.open_text(row[column], method_place(row["id"], column))

    return PaymentMethod(
        id=row["id"],
        user_id=row["user_id"],
        type=PaymentMethodType(row["type"]),
        gateway=GatewayName(row["gateway"]),
        token=row["token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        card_brand=row["card_brand"],
        card_last4=row["card_last4"],
        card_expiry_month=row["card_expiry_month"],
        card_expiry_year=row["card_expiry_year"],
        paypal_email=opened("paypal_email"),
        gateway_customer_id=opened("gateway_customer_id"),
        card_bin=row["card_bin"],
        card_fingerprint=row["card_fingerprint"],
        is_default=row["is_default"],
        deleted_at=row["deleted_at"],
    )


def method_to_row(method: PaymentMethod, sealer: Sealer) -> dict[str, Any]:
    def sealed(column: str, value: str | None) -> bytes | None:
        return sealer.seal_text(value, method_place(method.id, column))

    return {
        "id": method.id,
        "user_id": method.user_id,
        "type": method.type.value,
        "gateway": method.gateway.value,
        "token": method.token,
        "card_brand": method.card_brand,
        "card_last4": method.card_last4,
        "card_expiry_month": method.card_expiry_month,
        "card_expiry_year": method.card_expiry_year,
        "paypal_email": sealed("paypal_email", method.paypal_email),
        "paypal_email_bidx": sealer.index(PAYPAL_EMAIL, normalise_email(method.paypal_email)),
        "gateway_customer_id": sealed("gateway_customer_id", method.gateway_customer_id),
        "gateway_customer_bidx": sealer.index(
            gateway_customer_purpose(method.gateway.value), method.gateway_customer_id
        ),
        "card_bin": method.card_bin,
        "card_fingerprint": method.card_fingerprint,
        "is_default": method.is_default,
        "created_at": method.created_at,
        "updated_at": method.updated_at,
        "deleted_at": method.deleted_at,
    }
