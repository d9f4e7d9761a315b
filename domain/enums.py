"""Closed vocabularies of the domain. Values are the names stored in the database."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Held by the fraud checks until an admin approves or rejects it (domain/risk.py).
    UNDER_REVIEW = "UNDER_REVIEW"


class PaymentMethodType(StrEnum):
    CREDIT_CARD = "CREDIT_CARD"
    DEBIT_CARD = "DEBIT_CARD"
    PAYPAL = "PAYPAL"
    BANK_TRANSFER = "BANK_TRANSFER"
    CRYPTO = "CRYPTO"

    @property
    def is_card(self) -> bool:
        return self in (PaymentMethodType.CREDIT_CARD, PaymentMethodType.DEBIT_CARD)


class GatewayName(StrEnum):
    SIMULATOR = "SIMULATOR"
    STRIPE = "STRIPE"
    PAYPAL = "PAYPAL"


class TransactionType(StrEnum):
    AUTHORIZATION = "AUTHORIZATION"
    CAPTURE = "CAPTURE"
    REFUND = "REFUND"
    VOID = "VOID"


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    REQUIRES_ACTION = "REQUIRES_ACTION"

    @property
    def is_open(self) -> bool:
        """An open operation may still have moved money: nothing may conflict with it."""
        return self in (TransactionStatus.PENDING, TransactionStatus.UNKNOWN)


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class ScaExemption(StrEnum):
    """PSD2 Strong Customer Authentication exemptions a merchant may ask for."""

    LOW_VALUE = "LOW_VALUE"
    MERCHANT_INITIATED = "MERCHANT_INITIATED"
    TRANSACTION_RISK_ANALYSIS = "TRANSACTION_RISK_ANALYSIS"


class NextActionType(StrEnum):
    REDIRECT_TO_URL = "REDIRECT_TO_URL"
    # Show the bank-transfer instructions; the gateway's webhook completes the payment.
    DISPLAY_BANK_TRANSFER_INSTRUCTIONS = "DISPLAY_BANK_TRANSFER_INSTRUCTIONS"
