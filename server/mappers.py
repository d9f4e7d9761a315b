"""The one place where protobuf messages become domain commands and domain objects become
protobuf messages."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from domain import commands
from domain.availability import AvailableMethod
from domain.enums import GatewayName, PaymentMethodType, PaymentStatus, ScaExemption
from domain.fx import format_rate
from domain.gateway import BankTransferInstructions
from domain.money import Money
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.transaction import Transaction
from payments.v1 import (
    payment_method_pb2,
    payment_method_service_pb2,
    payment_pb2,
    payment_service_pb2,
    refund_pb2,
)
from server.risk_mappers import risk_to_proto

# Proto enum names are the domain names with a prefix: PAYMENT_STATUS_CAPTURED <-> CAPTURED.


def _to_proto_enum(enum_type: object, prefix: str, value: str) -> str:
    """The proto enum value name; protobuf accepts names wherever an enum is expected."""
    name = f"{prefix}{value}"
    enum_type.Value(name)  # type: ignore[attr-defined]  # fails loudly if the contract lacks it
    return name


E = TypeVar("E", PaymentMethodType, GatewayName, ScaExemption)


def _from_proto_enum(enum_type: object, prefix: str, number: int, domain_type: type[E]) -> E | None:
    if number == 0:
        return None
    try:
        name: str = enum_type.Name(number)  # type: ignore[attr-defined]
    except ValueError:
        return None
    return domain_type(name.removeprefix(prefix))


def method_type_from_proto(number: int) -> PaymentMethodType | None:
    return _from_proto_enum(
        payment_pb2.PaymentMethodType, "PAYMENT_METHOD_TYPE_", number, PaymentMethodType
    )


def gateway_from_proto(number: int) -> GatewayName | None:
    return _from_proto_enum(payment_pb2.Gateway, "GATEWAY_", number, GatewayName)


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def status_to_proto(status: PaymentStatus) -> str:
    return _to_proto_enum(payment_pb2.PaymentStatus, "PAYMENT_STATUS_", status.value)


def transaction_to_proto(txn: Transaction) -> payment_pb2.Transaction:
    return payment_pb2.Transaction(
        transaction_id=txn.id,
        payment_id=txn.payment_id,
        type=_to_proto_enum(payment_pb2.TransactionType, "TRANSACTION_TYPE_", txn.type.value),
        status=_to_proto_enum(
            payment_pb2.TransactionStatus, "TRANSACTION_STATUS_", txn.status.value
        ),
        amount_minor=txn.amount.amount_minor,
        currency=txn.amount.currency,
        gateway_transaction_id=txn.gateway_transaction_id or "",
        failure_code=txn.failure_code or "",
        failure_reason=txn.failure_reason or "",
        created_at=_ts(txn.created_at),
        completed_at=_ts(txn.completed_at),
        settlement_amount_minor=_minor(txn.settlement_amount),
        settlement_currency=_currency(txn.settlement_amount),
    )


def _minor(money: Money | None) -> int:
    return money.amount_minor if money is not None else 0


def _currency(money: Money | None) -> str:
    return money.currency if money is not None else ""


def next_action_to_proto(payment: Payment) -> payment_pb2.NextAction | None:
    action = payment.next_action
    if action is None:
        return None
    return payment_pb2.NextAction(
        type=_to_proto_enum(payment_pb2.NextActionType, "NEXT_ACTION_TYPE_", action.type.value),
        url=action.url,
        bank_transfer_instructions=_bank_transfer_to_proto(action.bank_transfer),
    )


def _bank_transfer_to_proto(
    shown: BankTransferInstructions | None,
) -> payment_pb2.BankTransferInstructions | None:
    if shown is None:
        return None
    return payment_pb2.BankTransferInstructions(
        type=shown.type,
        reference=shown.reference,
        amount_remaining_minor=shown.amount_remaining.amount_minor,
        currency=shown.amount_remaining.currency,
        accounts=[payment_pb2.BankTransferAccount(**asdict(a)) for a in shown.accounts],
    )


def payment_to_proto(payment: Payment) -> payment_pb2.Payment:
    return payment_pb2.Payment(
        payment_id=payment.id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        amount_minor=payment.amount.amount_minor,
        currency=payment.currency,
        status=status_to_proto(payment.status),
        payment_method_type=_to_proto_enum(
            payment_pb2.PaymentMethodType,
            "PAYMENT_METHOD_TYPE_",
            payment.payment_method_type.value,
        ),
        payment_method_id=payment.payment_method_id or "",
        gateway=_to_proto_enum(payment_pb2.Gateway, "GATEWAY_", payment.gateway.value),
        gateway_payment_id=payment.gateway_payment_id or "",
        description=payment.description,
        metadata=payment.metadata,
        authorized_amount_minor=payment.amounts.authorized.amount_minor,
        captured_amount_minor=payment.amounts.captured.amount_minor,
        refunded_amount_minor=payment.amounts.refunded.amount_minor,
        failure_code=payment.failure_code or "",
        failure_reason=payment.failure_reason or "",
        retry_count=payment.retry_count,
        next_action=next_action_to_proto(payment),
        transactions=[transaction_to_proto(t) for t in payment.transactions],
        created_at=_ts(payment.created_at),
        updated_at=_ts(payment.updated_at),
        authorized_at=_ts(payment.times.authorized_at),
        captured_at=_ts(payment.times.captured_at),
        failed_at=_ts(payment.times.failed_at),
        cancelled_at=_ts(payment.times.cancelled_at),
        refunded_at=_ts(payment.times.refunded_at),
        version=payment.version,
        sca_exemption=(
            _to_proto_enum(payment_pb2.ScaExemption, "SCA_EXEMPTION_", exemption.value)
            if (exemption := payment.authentication.sca_exemption)
            else None
        ),
        liability_shift=_liability_shift(payment.authentication.liability_shift),
        sca_exemption_sent=payment.authentication.sca_exemption_sent or "",
        sca_exemption_result=_exemption_result(payment.authentication.sca_exemption_applied),
        country=payment.country,
        risk=risk_to_proto(payment),
        **_settlement_fields(payment),
        **_dispute_fields(payment),
    )


def _dispute_fields(payment: Payment) -> dict[str, Any]:
    disputes = payment.disputes
    return {
        "disputed_amount_minor": disputes.disputed.amount_minor if disputes else 0,
        "dispute_status": f"DISPUTE_STATUS_{disputes.status.value}" if disputes else None,
        "net_amount_minor": payment.net_amount.amount_minor,
    }


def _settlement_fields(payment: Payment) -> dict[str, Any]:
    settles = payment.settles
    return {
        "settlement_currency": settles.currency,
        "settlement_amount_minor": payment.settlement_amount.amount_minor,
        "exchange_rate": format_rate(settles.rate),
        "exchange_rate_source": settles.source,
        "exchange_rate_as_of": _ts(settles.as_of),
        "fx_markup_bps": settles.markup_bps,
        "fx_quote_id": settles.fx_quote_id or "",
        "captured_settlement_amount_minor": payment.amounts.captured_settlement.amount_minor,
        "refunded_settlement_amount_minor": payment.amounts.refunded_settlement.amount_minor,
    }


def _exemption_result(applied: bool | None) -> str | None:
    if applied is None:
        return None
    return "SCA_EXEMPTION_RESULT_APPLIED" if applied else "SCA_EXEMPTION_RESULT_NOT_APPLIED"


def _liability_shift(shifted: bool | None) -> str | None:
    if shifted is None:
        return None
    return "LIABILITY_SHIFT_SHIFTED" if shifted else "LIABILITY_SHIFT_NOT_SHIFTED"


def payment_status_to_proto(payment: Payment) -> payment_service_pb2.GetPaymentStatusResponse:
    return payment_service_pb2.GetPaymentStatusResponse(
        payment_id=payment.id,
        status=status_to_proto(payment.status),
        failure_code=payment.failure_code or "",
        failure_reason=payment.failure_reason or "",
        next_action=next_action_to_proto(payment),
        updated_at=_ts(payment.updated_at),
    )


def refund_to_proto(refund: Refund) -> refund_pb2.Refund:
    return refund_pb2.Refund(
        refund_id=refund.id,
        payment_id=refund.payment_id,
        transaction_id=refund.transaction_id,
        amount_minor=refund.amount.amount_minor,
        currency=refund.amount.currency,
        reason=refund.reason,
        status=_to_proto_enum(refund_pb2.RefundStatus, "REFUND_STATUS_", refund.status.value),
        gateway_refund_id=refund.gateway_refund_id or "",
        failure_code=refund.failure_code or "",
        failure_reason=refund.failure_reason or "",
        requested_by=refund.requested_by,
        requested_at=_ts(refund.requested_at),
        processed_at=_ts(refund.processed_at),
        created_at=_ts(refund.created_at),
        settlement_amount_minor=_minor(refund.settlement_amount),
        settlement_currency=_currency(refund.settlement_amount),
    )


def method_to_proto(method: PaymentMethod) -> payment_method_pb2.PaymentMethod:
    """Display data only: the gateway token is never echoed."""
    return payment_method_pb2.PaymentMethod(
        payment_method_id=method.id,
        user_id=method.user_id,
        type=_to_proto_enum(
            payment_pb2.PaymentMethodType, "PAYMENT_METHOD_TYPE_", method.type.value
        ),
        gateway=_to_proto_enum(payment_pb2.Gateway, "GATEWAY_", method.gateway.value),
        card_brand=method.card_brand or "",
        card_last4=method.card_last4 or "",
        card_expiry_month=method.card_expiry_month or 0,
        card_expiry_year=method.card_expiry_year or 0,
        paypal_email=method.paypal_email or "",
        is_default=method.is_default,
        created_at=_ts(method.created_at),
        updated_at=_ts(method.updated_at),
    )


# --- requests -> commands ------------------------------------------------------------------
def create_payment_command(
    request: payment_service_pb2.CreatePaymentRequest,
) -> commands.CreatePayment:
    return commands.CreatePayment(
        order_id=request.order_id,
        user_id=request.user_id,
        amount_minor=request.amount_minor,
        currency=request.currency,
        payment_method_type=method_type_from_proto(request.payment_method_type),
        payment_method_id=request.payment_method_id,
        payment_method_token=request.payment_method_token,
        description=request.description,
        metadata=dict(request.metadata),
        gateway=gateway_from_proto(request.gateway),
        request_id=request.request_id,
        authorize=request.authorize,
        return_url=request.return_url,
        country=request.country,
        sca_exemption=_from_proto_enum(
            payment_pb2.ScaExemption, "SCA_EXEMPTION_", request.sca_exemption, ScaExemption
        ),
        settlement_currency=request.settlement_currency,
        fx_quote_id=request.fx_quote_id,
    )


def authorize_command(
    request: payment_service_pb2.AuthorizePaymentRequest,
) -> commands.AuthorizePayment:
    return commands.AuthorizePayment(
        payment_id=request.payment_id,
        payment_method_id=request.payment_method_id,
        payment_method_token=request.payment_method_token,
        request_id=request.request_id,
    )


def confirm_command(request: payment_service_pb2.ConfirmPaymentRequest) -> commands.ConfirmPayment:
    return commands.ConfirmPayment(payment_id=request.payment_id, request_id=request.request_id)


def capture_command(request: payment_service_pb2.CapturePaymentRequest) -> commands.CapturePayment:
    return commands.CapturePayment(
        payment_id=request.payment_id,
        amount_minor=request.amount_minor if request.HasField("amount_minor") else None,
        request_id=request.request_id,
    )


def cancel_command(request: payment_service_pb2.CancelPaymentRequest) -> commands.CancelPayment:
    return commands.CancelPayment(
        payment_id=request.payment_id, reason=request.reason, request_id=request.request_id
    )


def refund_command(request: payment_service_pb2.RefundPaymentRequest) -> commands.RefundPayment:
    return commands.RefundPayment(
        payment_id=request.payment_id,
        amount_minor=request.amount_minor if request.HasField("amount_minor") else None,
        reason=request.reason,
        requested_by=request.requested_by,
        request_id=request.request_id,
    )


def add_method_command(
    request: payment_method_service_pb2.AddPaymentMethodRequest,
) -> commands.AddPaymentMethod:
    return commands.AddPaymentMethod(
        user_id=request.user_id,
        type=method_type_from_proto(request.type),
        payment_method_token=request.payment_method_token,
        paypal_email=request.paypal_email,
        set_default=request.set_default,
        gateway=gateway_from_proto(request.gateway),
        request_id=request.request_id,
    )


def available_methods_query(
    request: payment_method_service_pb2.ListAvailablePaymentMethodsRequest,
) -> commands.ListAvailablePaymentMethods:
    return commands.ListAvailablePaymentMethods(
        country=request.country, currency=request.currency, amount_minor=request.amount_minor
    )


def available_method_to_proto(
    available: AvailableMethod,
) -> payment_method_service_pb2.AvailablePaymentMethod:
    return payment_method_service_pb2.AvailablePaymentMethod(
        type=_to_proto_enum(
            payment_pb2.PaymentMethodType, "PAYMENT_METHOD_TYPE_", available.type.value
        ),
        gateway=_to_proto_enum(payment_pb2.Gateway, "GATEWAY_", available.gateway.value),
    )
