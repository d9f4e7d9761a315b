"""What a gateway tells us in a webhook, once verified and translated from its JSON.

A `GatewayEvent` is a neutral fact ("the gateway captured 1099 of pi_123"); the use case in
`domain/usecases/webhooks.py` applies it to the payment it names, at most once per event id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.enums import GatewayName
from domain.gateway import NextAction


class GatewayEventKind(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    CAPTURED = "CAPTURED"
    CAPTURE_FAILED = "CAPTURE_FAILED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    DISPUTE_OPENED = "DISPUTE_OPENED"
    DISPUTE_CLOSED = "DISPUTE_CLOSED"
    # Recorded and acknowledged, nothing to apply (unknown types, buyer approvals, ...).
    INFORMATIONAL = "INFORMATIONAL"


@dataclass(frozen=True, slots=True)
class RefundFact:
    """One refund at the gateway: its id makes applying it idempotent."""

    reference: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class DisputeFact:
    gateway_dispute_id: str
    amount_minor: int
    currency: str
    reason: str
    # The gateway's status word (needs_response, won, lost, ...).
    status: str


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    gateway: GatewayName
    event_id: str
    # The gateway's own type name (payment_intent.succeeded, PAYMENT.CAPTURE.COMPLETED, ...).
    type: str
    kind: GatewayEventKind
    occurred_at: datetime
    # The gateway's payment object (Stripe PaymentIntent, PayPal order), when the event names it.
    gateway_payment_id: str | None = None
    # Other gateway objects that may identify the payment (charges, captures, authorizations).
    related_ids: tuple[str, ...] = ()
    # The object this event is about (capture id, authorization id, ...).
    reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    refunds: tuple[RefundFact, ...] = ()
    # The gateway's running total of refunds, when it gives one without per-refund ids.
    refunded_total_minor: int | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    next_action_url: str = ""
    # The next action in full, when the gateway describes more than a URL (bank transfers).
    next_action: NextAction | None = None
    dispute: DisputeFact | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """The row that makes an event id count once."""

    gateway: GatewayName
    event_id: str
    type: str
    payment_id: str | None
    received_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookResult:
    event_id: str
    # False for a redelivery: the event had been processed before and nothing changed.
    processed: bool
    payment_id: str | None = None
