"""What the domain asks of a payment gateway and what it gets back (the gateway port)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from domain.enums import (
    GatewayName,
    NextActionType,
    PaymentMethodType,
    ScaExemption,
    TransactionType,
)
from domain.money import Money


class OutcomeStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"
    REQUIRES_ACTION = "REQUIRES_ACTION"


@dataclass(frozen=True, slots=True)
class BankTransferAccount:
    """A receiving account of the merchant at the gateway; the fields of its scheme are set."""

    type: str
    account_holder_name: str = ""
    iban: str = ""
    bic: str = ""
    country: str = ""
    account_number: str = ""
    sort_code: str = ""
    routing_number: str = ""
    bank_name: str = ""


@dataclass(frozen=True, slots=True)
class BankTransferInstructions:
    """What the customer needs to send the transfer that pays the payment."""

    type: str
    reference: str
    amount_remaining: Money
    accounts: tuple[BankTransferAccount, ...] = ()


@dataclass(frozen=True, slots=True)
class NextAction:
    type: NextActionType
    url: str
    bank_transfer: BankTransferInstructions | None = None


@dataclass(frozen=True, slots=True)
class GatewayOutcome:
    """The gateway's definite answer. Declines carry a stable failure code."""

    status: OutcomeStatus
    # The gateway's id of the object acted on (PaymentIntent, capture, refund ...).
    reference: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    next_action: NextAction | None = None
    # A soft decline (processing error, try again later): worth retrying, unlike a hard one.
    soft: bool = False
    # 3-D Secure: whether fraud liability shifted to the issuer (None: no authentication).
    liability_shift: bool | None = None
    # The SCA exemption as the adapter put it on the wire, in the gateway's own terms
    # (`off_session`, `stored_credential.payment_initiator=MERCHANT`); None: none was sent.
    sca_exemption_sent: str | None = None
    # Whether the issuer applied it, where the gateway says (None: it did not say).
    sca_exemption_applied: bool | None = None

    @classmethod
    def succeeded(cls, reference: str) -> GatewayOutcome:
        return cls(OutcomeStatus.SUCCEEDED, reference)

    @classmethod
    def declined(cls, code: str, reason: str, reference: str | None = None) -> GatewayOutcome:
        return cls(OutcomeStatus.DECLINED, reference, failure_code=code, failure_reason=reason)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    idempotency_key: str
    payment_id: str
    amount: Money
    payment_method_type: PaymentMethodType
    payment_method_token: str
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Where the customer comes back after 3-D Secure or PayPal approval.
    return_url: str = ""
    # The gateway's customer the saved method belongs to (Stripe cus_...), if any.
    customer_reference: str | None = None
    # A Strong Customer Authentication exemption to ask the issuer for.
    sca_exemption: ScaExemption | None = None
    # ISO 3166-1 alpha-2 country of the customer, when known (where a bank transfer goes).
    country: str = ""


@dataclass(frozen=True, slots=True)
class GatewayOperationRequest:
    """Capture, void or refund of something the gateway already authorized."""

    idempotency_key: str
    gateway_payment_id: str
    amount: Money
    # The gateway's id of the capture being refunded (PayPal refunds captures, not orders).
    capture_reference: str | None = None


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    """The customer completed the next action (3-D Secure, PayPal approval): finish the
    authorization."""

    idempotency_key: str
    gateway_payment_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """Which operation the reconciler asks about: the one sent under `idempotency_key`."""

    idempotency_key: str
    operation: TransactionType
    # Unknown for an authorization whose answer never arrived.
    gateway_payment_id: str | None
    amount: Money


@dataclass(frozen=True, slots=True)
class AttachRequest:
    """Keep a tokenized method at the gateway for one of our users, so it can be charged
    again later (Stripe: attach the PaymentMethod to a Customer)."""

    idempotency_key: str
    token: str
    method_type: PaymentMethodType
    owner_id: str
    # The gateway's customer already holding this user's other methods, if any.
    customer_reference: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentMethodDetails:
    """Display data of a tokenized method, as the gateway reports it."""

    type: PaymentMethodType
    card_brand: str | None = None
    card_last4: str | None = None
    card_expiry_month: int | None = None
    card_expiry_year: int | None = None
    paypal_email: str | None = None
    card_bin: str | None = None
    card_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class MethodSupport:
    """One payment method type a gateway takes, where and how much. Empty sets: any.
    `minimum_minor` is the smallest amount it takes, in the minor unit of each currency."""

    method_type: PaymentMethodType
    currencies: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    minimum_minor: tuple[tuple[str, int], ...] = ()

    def takes(self, method_type: PaymentMethodType, currency: str, country: str,
              amount_minor: int = 0) -> bool:  # fmt: skip
        """An empty currency or country (not known yet) matches; amount 0 is any amount."""
        return (
            method_type is self.method_type
            and (not self.currencies or not currency or currency in self.currencies)
            and (not self.countries or not country or country in self.countries)
            and (not amount_minor or amount_minor >= dict(self.minimum_minor).get(currency, 0))
        )


@dataclass(frozen=True, slots=True)
class GatewayCapabilities:
    """What an adapter declares it can take: pure configuration, read without any I/O."""

    methods: tuple[MethodSupport, ...] = ()
    # The SCA exemptions the adapter can request in its gateway's terms; others are refused.
    sca_exemptions: frozenset[ScaExemption] = frozenset()

    @property
    def method_types(self) -> frozenset[PaymentMethodType]:
        return frozenset(m.method_type for m in self.methods)

    def takes(self, method_type: PaymentMethodType, currency: str, country: str,
              amount_minor: int = 0) -> bool:  # fmt: skip
        return any(m.takes(method_type, currency, country, amount_minor) for m in self.methods)


class PaymentGateway(Protocol):
    """Implemented by the simulator, Stripe and PayPal adapters in infra/.

    Methods return a `GatewayOutcome` for any definite answer (including declines), raise
    `GatewayUnavailable` when the request certainly had no effect, and `GatewayOutcomeUnknown`
    when it may have (timeouts after sending).
    """

    @property
    def name(self) -> GatewayName: ...

    @property
    def capabilities(self) -> GatewayCapabilities:
        """The method types, currencies and countries this gateway takes (no I/O)."""

    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome: ...

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        """Complete an authorization that answered REQUIRES_ACTION."""

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome: ...

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome: ...

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome: ...

    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        """What the gateway did with that operation, or None if it never received it."""

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails: ...

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        """The gateway's customer reference now holding the method, or None for gateways
        without customers (the token alone is reusable there)."""
