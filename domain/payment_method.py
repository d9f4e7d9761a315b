"""A user's saved payment method: a gateway token plus display data, never a card number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import GatewayName, PaymentMethodType


@dataclass(slots=True)
class PaymentMethod:
    id: str
    user_id: str
    type: PaymentMethodType
    gateway: GatewayName
    token: str
    created_at: datetime
    updated_at: datetime
    card_brand: str | None = None
    card_last4: str | None = None
    card_expiry_month: int | None = None
    card_expiry_year: int | None = None
    # For the fraud checks, when the gateway reports them: the card's BIN (first 6-8 digits,
    # which PCI DSS allows to keep) and the gateway's fingerprint of the card number, the
    # same for every token of one card.
    card_bin: str | None = None
    card_fingerprint: str | None = None
    paypal_email: str | None = None
    # The gateway's customer holding the method (Stripe cus_...), where the gateway has one.
    gateway_customer_id: str | None = None
    is_default: bool = False
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def make_default(self, now: datetime) -> None:
        self.is_default = True
        self.updated_at = now

    def clear_default(self, now: datetime) -> None:
        self.is_default = False
        self.updated_at = now

    def delete(self, now: datetime) -> None:
        self.is_default = False
        self.deleted_at = now
        self.updated_at = now
