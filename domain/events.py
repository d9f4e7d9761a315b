"""Domain events recorded by aggregates and written to the outbox in the same transaction.

Money events carry the amount in the payment's settlement currency and the rate applied
(domain/settlement.py); None (events written before settlement existed) is the amount itself
at rate 1."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from domain.enums import PaymentMethodType
from domain.money import Money


@dataclass(frozen=True, slots=True)
class DomainEvent:
    event_id: str
    payment_id: str
    order_id: str
    occurred_at: datetime

    # The published type (CloudEvents ce_type), a fact of the class: stored rows name it.
    event_type: ClassVar[str]


@dataclass(frozen=True, slots=True)
class PaymentAuthorized(DomainEvent):
    amount: Money
    payment_method_type: PaymentMethodType
    transaction_id: str
    settlement: Money | None = None
    exchange_rate: Decimal | None = None

    event_type: ClassVar[str] = "payment.authorized"


@dataclass(frozen=True, slots=True)
class PaymentRequiresAction(DomainEvent):
    next_action_url: str

    event_type: ClassVar[str] = "payment.requires_action"


@dataclass(frozen=True, slots=True)
class PaymentSucceeded(DomainEvent):
    """The money was captured (payment.successful)."""

    amount: Money
    payment_method_type: PaymentMethodType
    transaction_id: str
    settlement: Money | None = None
    exchange_rate: Decimal | None = None

    event_type: ClassVar[str] = "payment.successful"


@dataclass(frozen=True, slots=True)
class PaymentFailed(DomainEvent):
    reason: str
    failure_code: str
    retry_attempt: int

    event_type: ClassVar[str] = "payment.failed"


@dataclass(frozen=True, slots=True)
class PaymentCancelled(DomainEvent):
    reason: str

    event_type: ClassVar[str] = "payment.cancelled"


@dataclass(frozen=True, slots=True)
class PaymentRefunded(DomainEvent):
    refund_id: str
    amount: Money
    transaction_id: str
    settlement: Money | None = None
    exchange_rate: Decimal | None = None

    event_type: ClassVar[str] = "payment.refunded"


@dataclass(frozen=True, slots=True)
class PaymentRequiresReview(DomainEvent):
    """The fraud checks held the payment for an admin's decision."""

    rules_hit: tuple[str, ...]

    event_type: ClassVar[str] = "payment.requires_review"


@dataclass(frozen=True, slots=True)
class PaymentDisputed(DomainEvent):
    """The cardholder (or buyer) opened a dispute (chargeback) at the gateway."""

    dispute_id: str
    amount: Money
    reason: str
    # The dispute's status when the event was recorded (domain/dispute.py: OPENED, ...).
    status: str
    # The gateway the dispute came from (STRIPE, PAYPAL, ...).
    gateway: str

    event_type: ClassVar[str] = "payment.disputed"


@dataclass(frozen=True, slots=True)
class PaymentDisputeClosed(DomainEvent):
    """A dispute ended: WON (the money stays), LOST (it is gone) or CLOSED (no outcome)."""

    dispute_id: str
    amount: Money
    reason: str
    status: str
    gateway: str
    outcome: str
    closed_at: datetime

    event_type: ClassVar[str] = "payment.dispute_closed"


def event_classes() -> frozenset[type[DomainEvent]]:
    """Every concrete event class. Only the classes the modules name: a slots dataclass is
    a copy of the class it decorates, and the original stays among the subclasses until the
    garbage collector gets to it."""
    found: set[type[DomainEvent]] = set()
    pending = [DomainEvent]
    while pending:
        for cls in pending.pop().__subclasses__():
            if getattr(sys.modules[cls.__module__], cls.__qualname__, None) is cls:
                found.add(cls)
                pending.append(cls)
    return frozenset(found)
