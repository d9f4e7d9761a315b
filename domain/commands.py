"""Requests to the domain, as plain data. `violations()` lists every invalid field at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import validation as v
from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.errors import FieldViolation
from domain.fx import parse_rate
from domain.risk import ReviewOutcome


@dataclass(frozen=True, slots=True)
class CreatePayment:
    order_id: str
    user_id: str
    amount_minor: int
    currency: str
    payment_method_type: PaymentMethodType | None
    payment_method_id: str = ""
    payment_method_token: str = ""
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    gateway: GatewayName | None = None
    request_id: str = ""
    # Authorize in the same call (Stripe's confirm=true).
    authorize: bool = False
    return_url: str = ""
    sca_exemption: ScaExemption | None = None
    # ISO 3166-1 alpha-2 country of the card or customer, for routing.
    country: str = ""
    # Capture once authorized (see Payment.capture_on_authorization).
    capture_on_authorization: bool = False
    # Settle in this currency instead of SETTLEMENT_CURRENCY (or the presentment currency).
    settlement_currency: str = ""
    # Settle at this quote's locked rate (FxService.CreateFxQuote).
    fx_quote_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = [
            *v.require_uuid("order_id", self.order_id),
            *v.require_uuid("user_id", self.user_id),
            *v.require_amount("amount_minor", self.amount_minor),
            *v.require_currency_code("currency", self.currency),
            *(
                v.require_currency_code("settlement_currency", self.settlement_currency)
                if self.settlement_currency
                else []
            ),
            *(v.require_uuid("fx_quote_id", self.fx_quote_id) if self.fx_quote_id else []),
            *v.check_text("description", self.description, v.MAX_DESCRIPTION),
            *v.check_metadata("metadata", self.metadata),
            *v.check_return_url("return_url", self.return_url),
            *v.check_country("country", self.country),
        ]
        if self.payment_method_id and self.payment_method_token:
            found.append(
                FieldViolation(
                    "payment_method_token", "give either payment_method_id or the token, not both"
                )
            )
        elif self.payment_method_id:
            found += v.require_uuid("payment_method_id", self.payment_method_id)
        elif self.payment_method_token:
            found += v.check_token("payment_method_token", self.payment_method_token)
            if self.payment_method_type is None:
                found.append(
                    FieldViolation("payment_method_type", "is required with a token", "REQUIRED")
                )
        elif self.payment_method_type is not PaymentMethodType.BANK_TRANSFER:
            # A bank transfer needs no token: the customer sends the money themselves.
            found.append(
                FieldViolation(
                    "payment_method_token",
                    "give a payment_method_token or a saved payment_method_id",
                    "REQUIRED",
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class AuthorizePayment:
    payment_id: str
    payment_method_id: str = ""
    payment_method_token: str = ""
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = v.require_uuid("payment_id", self.payment_id)
        if self.payment_method_id and self.payment_method_token:
            found.append(
                FieldViolation(
                    "payment_method_token", "give either payment_method_id or the token, not both"
                )
            )
        if self.payment_method_id:
            found += v.require_uuid("payment_method_id", self.payment_method_id)
        if self.payment_method_token:
            found += v.check_token("payment_method_token", self.payment_method_token)
        return found


@dataclass(frozen=True, slots=True)
class ConfirmPayment:
    payment_id: str
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        return v.require_uuid("payment_id", self.payment_id)


@dataclass(frozen=True, slots=True)
class ReviewPayment:
    """An admin's decision on a payment the fraud checks held for review."""

    payment_id: str
    decision: ReviewOutcome | None
    reason: str
    reviewer: str
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = [
            *v.require_uuid("payment_id", self.payment_id),
            *v.check_text("reason", self.reason, v.MAX_REASON),
        ]
        if self.decision is None:
            found.append(FieldViolation("decision", "APPROVE or REJECT is required", "REQUIRED"))
        if not self.reason.strip():
            found.append(FieldViolation("reason", "is required", "REQUIRED"))
        return found


@dataclass(frozen=True, slots=True)
class CapturePayment:
    payment_id: str
    amount_minor: int | None = None
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = v.require_uuid("payment_id", self.payment_id)
        if self.amount_minor is not None:
            found += v.require_amount("amount_minor", self.amount_minor)
        return found


@dataclass(frozen=True, slots=True)
class CancelPayment:
    payment_id: str
    reason: str = ""
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        return [
            *v.require_uuid("payment_id", self.payment_id),
            *v.check_text("reason", self.reason, v.MAX_REASON),
        ]


@dataclass(frozen=True, slots=True)
class RefundPayment:
    payment_id: str
    amount_minor: int | None = None
    reason: str = ""
    requested_by: str = ""
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = [
            *v.require_uuid("payment_id", self.payment_id),
            *v.check_text("reason", self.reason, v.MAX_REASON),
            *v.check_text("requested_by", self.requested_by, 255),
        ]
        if self.amount_minor is not None:
            found += v.require_amount("amount_minor", self.amount_minor)
        return found


@dataclass(frozen=True, slots=True)
class AddPaymentMethod:
    user_id: str
    type: PaymentMethodType | None
    payment_method_token: str
    paypal_email: str = ""
    set_default: bool = False
    gateway: GatewayName | None = None
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = v.require_uuid("user_id", self.user_id)
        if self.type is None:
            found.append(FieldViolation("type", "is required", "REQUIRED"))
        if not self.payment_method_token:
            found.append(FieldViolation("payment_method_token", "is required", "REQUIRED"))
        else:
            found += v.check_token("payment_method_token", self.payment_method_token)
        if self.paypal_email and ("@" not in self.paypal_email or len(self.paypal_email) > 254):
            found.append(FieldViolation("paypal_email", "must be an e-mail address"))
        return found


@dataclass(frozen=True, slots=True)
class SetExchangeRate:
    base_currency: str
    quote_currency: str
    rate: str
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = v.require_currency_code("base_currency", self.base_currency)
        found += v.require_currency_code("quote_currency", self.quote_currency)
        if not found and self.base_currency == self.quote_currency:
            found.append(FieldViolation("quote_currency", "must differ from base_currency"))
        found += parse_rate("rate", self.rate)[1]
        return found


@dataclass(frozen=True, slots=True)
class CreateFxQuote:
    source_currency: str
    target_currency: str
    source_amount_minor: int
    request_id: str = ""

    def violations(self) -> list[FieldViolation]:
        found = v.require_currency_code("source_currency", self.source_currency)
        found += v.require_currency_code("target_currency", self.target_currency)
        if not found and self.source_currency == self.target_currency:
            found.append(FieldViolation("target_currency", "must differ from source_currency"))
        found += v.require_amount("source_amount_minor", self.source_amount_minor)
        return found


@dataclass(frozen=True, slots=True)
class ListAvailablePaymentMethods:
    country: str
    currency: str
    # 0: any amount.
    amount_minor: int = 0

    def violations(self) -> list[FieldViolation]:
        found = [
            *v.check_country("country", self.country),
            *v.require_currency_code("currency", self.currency),
        ]
        if self.amount_minor:
            found += v.require_amount("amount_minor", self.amount_minor)
        return found
