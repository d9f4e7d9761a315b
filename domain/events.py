"""Domain events recorded by aggregates and written to the outbox in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import PaymentMethodType
from domain.money import Money


@dataclass(frozen=True, slots=True)
class DomainEvent:
    event_id: str
    payment_id: str
    order_id: str
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class PaymentAuthorized(DomainEvent):
    amount: Money
    payment_method_type: PaymentMethodType
    transaction_id: str

    @property
    def event_type(self) -> str:
        return "payment.authorized"


@dataclass(frozen=True, slots=True)
class PaymentRequiresAction(DomainEvent):
    next_action_url: str

    @property
    def event_type(self) -> str:
        return "payment.requires_action"


@dataclass(frozen=True, slots=True)
class PaymentSucceeded(DomainEvent):
    """The money was captured (payment.successful)."""

    amount: Money
    payment_method_type: PaymentMethodType
    transaction_id: str

    @property
    def event_type(self) -> str:
        return "payment.successful"


@dataclass(frozen=True, slots=True)
class PaymentFailed(DomainEvent):
    reason: str
    failure_code: str
    retry_attempt: int

    @property
    def event_type(self) -> str:
        return "payment.failed"


@dataclass(frozen=True, slots=True)
class PaymentCancelled(DomainEvent):
    reason: str

    @property
    def event_type(self) -> str:
        return "payment.cancelled"


@dataclass(frozen=True, slots=True)
class PaymentRefunded(DomainEvent):
    refund_id: str
    amount: Money
    transaction_id: str

    @property
    def event_type(self) -> str:
        return "payment.refunded"


@dataclass(frozen=True, slots=True)
class PaymentRequiresReview(DomainEvent):
    """The fraud checks held the payment for an admin's decision."""

    rules_hit: tuple[str, ...]

    @property
    def event_type(self) -> str:
        return "payment.requires_review"
