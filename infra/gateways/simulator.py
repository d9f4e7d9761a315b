"""A deterministic in-process gateway for development and tests.

Outcomes depend on the token, named like Stripe's test payment methods. Like a real gateway
it honours idempotency keys (a repeated key replays the first answer without a second
effect) and keeps its own ledger, so tests can compare the service's view with the gateway's.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from domain.enums import GatewayName, NextActionType, PaymentMethodType
from domain.errors import FieldViolation, InvalidPaymentMethodToken
from domain.gateway import (
    AuthorizationRequest,
    GatewayOperationRequest,
    GatewayOutcome,
    NextAction,
    OutcomeStatus,
    PaymentMethodDetails,
)


@dataclass(frozen=True, slots=True)
class TestCard:
    brand: str
    last4: str
    decline_code: str | None = None
    decline_reason: str = ""
    requires_action: bool = False


CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "CARD_DECLINED", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "INSUFFICIENT_FUNDS", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", "EXPIRED_CARD", "Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard(
        "visa", "0127", "INCORRECT_CVC", "Your card's security code is incorrect."
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", requires_action=True),
}
EXPIRY = (12, 2034)


@dataclass(slots=True)
class SimulatedCharge:
    """The gateway's own record of one authorization and what happened to it."""

    reference: str
    amount_minor: int
    currency: str
    status: str  # authorized | requires_action | captured | voided | declined
    captured_minor: int = 0
    refunded_minor: int = 0
    refunds: list[str] = field(default_factory=list)


class SimulatorGateway:
    def __init__(
        self,
        *,
        latency_seconds: float = 0.0,
        action_base_url: str = "https://simulator.invalid/3ds",
    ) -> None:
        # Simulated network and processing time of every money-moving call.
        self._latency = latency_seconds
        self._action_base_url = action_base_url
        self.charges: dict[str, SimulatedCharge] = {}
        self._answers: dict[str, GatewayOutcome] = {}
        # (operation, idempotency key, amount) of every call that moved money.
        self.effects: list[tuple[str, str, int]] = []

    @property
    def name(self) -> GatewayName:
        return GatewayName.SIMULATOR

    async def _network(self) -> None:
        if self._latency:
            await asyncio.sleep(self._latency)

    def _new_reference(self, prefix: str) -> str:
        # Globally unique, like a real gateway's ids: a restarted simulator must not reuse one.
        return f"{prefix}_sim_{uuid.uuid4().hex[:24]}"

    def _replayed(self, key: str) -> GatewayOutcome | None:
        return self._answers.get(key)

    def _remember(self, key: str, outcome: GatewayOutcome) -> GatewayOutcome:
        self._answers[key] = outcome
        return outcome

    def lookup(self, idempotency_key: str) -> GatewayOutcome | None:
        """The answer given for a key, if the gateway ever received it."""
        return self._answers.get(idempotency_key)

    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        await self._network()
        if (earlier := self._replayed(request.idempotency_key)) is not None:
            return earlier
        reference = self._new_reference("pi")
        amount = request.amount
        card = CARDS.get(request.payment_method_token)
        if request.payment_method_type.is_card and card is None:
            outcome = GatewayOutcome.declined(
                "PAYMENT_METHOD_TOKEN_INVALID", "No such payment method.", reference
            )
            status = "declined"
        elif card is not None and card.decline_code:
            outcome = GatewayOutcome.declined(card.decline_code, card.decline_reason, reference)
            status = "declined"
        elif card is not None and card.requires_action:
            url = f"{self._action_base_url}/{reference}"
            outcome = GatewayOutcome(
                OutcomeStatus.REQUIRES_ACTION,
                reference,
                next_action=NextAction(NextActionType.REDIRECT_TO_URL, url),
            )
            status = "requires_action"
        else:
            outcome = GatewayOutcome.succeeded(reference)
            status = "authorized"
            self.effects.append(("authorize", request.idempotency_key, amount.amount_minor))
        self.charges[reference] = SimulatedCharge(
            reference, amount.amount_minor, amount.currency, status
        )
        return self._remember(request.idempotency_key, outcome)

    def _charge(self, reference: str) -> SimulatedCharge | None:
        return self.charges.get(reference)

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        await self._network()
        if (earlier := self._replayed(request.idempotency_key)) is not None:
            return earlier
        charge = self._charge(request.gateway_payment_id)
        amount = request.amount.amount_minor
        if charge is None or charge.status != "authorized":
            outcome = GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to capture.")
        elif amount > charge.amount_minor:
            outcome = GatewayOutcome.declined("AMOUNT_TOO_LARGE", "Exceeds the authorization.")
        else:
            charge.status, charge.captured_minor = "captured", amount
            self.effects.append(("capture", request.idempotency_key, amount))
            outcome = GatewayOutcome.succeeded(self._new_reference("ch"))
        return self._remember(request.idempotency_key, outcome)

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        await self._network()
        if (earlier := self._replayed(request.idempotency_key)) is not None:
            return earlier
        charge = self._charge(request.gateway_payment_id)
        if charge is None or charge.status not in ("authorized", "requires_action"):
            outcome = GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to void.")
        else:
            charge.status = "voided"
            self.effects.append(("void", request.idempotency_key, charge.amount_minor))
            outcome = GatewayOutcome.succeeded(charge.reference)
        return self._remember(request.idempotency_key, outcome)

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        await self._network()
        if (earlier := self._replayed(request.idempotency_key)) is not None:
            return earlier
        charge = self._charge(request.gateway_payment_id)
        amount = request.amount.amount_minor
        if charge is None or charge.status != "captured":
            outcome = GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to refund.")
        elif charge.refunded_minor + amount > charge.captured_minor:
            outcome = GatewayOutcome.declined("AMOUNT_TOO_LARGE", "Exceeds the captured amount.")
        else:
            reference = self._new_reference("re")
            charge.refunded_minor += amount
            charge.refunds.append(reference)
            self.effects.append(("refund", request.idempotency_key, amount))
            outcome = GatewayOutcome.succeeded(reference)
        return self._remember(request.idempotency_key, outcome)

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails:
        if not method_type.is_card:
            return PaymentMethodDetails(type=method_type)
        card = CARDS.get(token)
        if card is None:
            raise InvalidPaymentMethodToken(
                "the gateway does not know this payment method token",
                violations=[FieldViolation("payment_method_token", "is not a known token")],
            )
        month, year = EXPIRY
        return PaymentMethodDetails(method_type, card.brand, card.last4, month, year)
