"""A deterministic in-process gateway for development and tests.

Outcomes depend on the token, named like Stripe's test payment methods. Like a real gateway
it honours idempotency keys (a repeated key replays the first answer without a second
effect), answers lookups by key, and keeps its own ledger, so tests can compare the service's
view with the gateway's. Faults can be injected per operation for failure tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from domain.enums import GatewayName, NextActionType, PaymentMethodType, ScaExemption
from domain.errors import (
    FieldViolation,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
    InvalidPaymentMethodToken,
)
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    MethodSupport,
    NextAction,
    OutcomeStatus,
    PaymentMethodDetails,
)
from infra.gateways.simulator_faults import Fault, FaultFile
from infra.gateways.simulator_ledger import (
    LedgerBook,
    MemoryLedger,
    SimulatedCharge,
    SqlLedger,
)


@dataclass(frozen=True, slots=True)
class TestCard:
    brand: str
    last4: str
    decline_code: str | None = None
    decline_reason: str = ""
    requires_action: bool = False
    # Stripe's test cards other than 4242... start 4000 00.
    bin: str = "400000"

    @property
    def fingerprint(self) -> str:
        """Like Stripe's: one per card number, whichever token or user carries it."""
        return hashlib.sha256(f"simulator:{self.bin}:{self.last4}".encode()).hexdigest()[:16]


CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", bin="424242"),
    "pm_card_visa_debit": TestCard("visa", "5556", bin="400005"),
    "pm_card_mastercard": TestCard("mastercard", "4444", bin="555555"),
    "pm_card_amex": TestCard("amex", "8431", bin="378282"),
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
    # A soft decline: the issuer could not process it now; worth retrying.
    "pm_card_chargeDeclinedProcessingError": TestCard(
        "visa", "0119", "PROCESSING_ERROR", "An error occurred while processing your card."
    ),
}
EXPIRY = (12, 2034)


SIMULATED = GatewayCapabilities(
    (
        MethodSupport(PaymentMethodType.CREDIT_CARD),
        MethodSupport(PaymentMethodType.DEBIT_CARD),
        MethodSupport(PaymentMethodType.PAYPAL),
    ),
    sca_exemptions=frozenset(ScaExemption),
)
# The simulated issuer grants low-value up to 30.00 and risk analysis up to 500.00 (the PSD2
# RTS ceilings in EUR, read in the minor unit of a two-decimal currency, whatever the currency).
LOW_VALUE_LIMIT_MINOR = 3_000
RISK_ANALYSIS_LIMIT_MINOR = 50_000


def simulated_exemption(request: AuthorizationRequest) -> tuple[str | None, bool | None]:
    """What the simulator sends for the request's exemption, and whether its issuer grants
    it: merchant-initiated always (the saved method is the mandate), the others under their
    ceilings."""
    exemption = request.sca_exemption
    if exemption is None:
        return None, None
    amount = request.amount.amount_minor
    granted = {
        ScaExemption.LOW_VALUE: amount <= LOW_VALUE_LIMIT_MINOR,
        ScaExemption.TRANSACTION_RISK_ANALYSIS: amount <= RISK_ANALYSIS_LIMIT_MINOR,
        ScaExemption.MERCHANT_INITIATED: True,
    }[exemption]
    return f"sca_exemption={exemption.value}", granted


class SimulatorGateway:
    def __init__(
        self,
        *,
        ledger: MemoryLedger | SqlLedger | None = None,
        latency_seconds: float = 0.0,
        # Tests of routing and failover let simulators stand in for other gateways.
        name: GatewayName = GatewayName.SIMULATOR,
        action_base_url: str = "https://simulator.invalid/3ds",
        # Faults switched on and off from outside (the chaos suite); None: none.
        fault_file: FaultFile | None = None,
    ) -> None:
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self._name = name
        # Simulated network and processing time of every money-moving call, half before and
        # half after the gateway acts, so a crash of the caller can fall on either side.
        self._half_latency = latency_seconds / 2
        self._action_base_url = action_base_url
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._failed_authentications: set[str] = set()
        self._random_faults: dict[str, tuple[float, Fault, random.Random]] = {}
        self._fault_file = fault_file

    @property
    def name(self) -> GatewayName:
        return self._name

    @property
    def capabilities(self) -> GatewayCapabilities:
        """Cards and PayPal-like wallets (it stands in for PayPal in routing tests), in any
        currency. No bank transfers or crypto: it has no flow that could pay them."""
        return SIMULATED

    # --- test aids ------------------------------------------------------------------------
    @property
    def charges(self) -> dict[str, SimulatedCharge]:
        assert isinstance(self.ledger, MemoryLedger), "charges are in the database ledger"
        return self.ledger.charges

    @property
    def answers(self) -> dict[str, GatewayOutcome]:
        """Every answer given, by idempotency key: one entry per distinct request."""
        assert isinstance(self.ledger, MemoryLedger), "answers are in the database ledger"
        return self.ledger.answers

    @property
    def effects(self) -> list[tuple[str, str, int]]:
        assert isinstance(self.ledger, MemoryLedger), "effects are in the database ledger"
        return self.ledger.effects

    def fail_randomly(
        self, operation: str, probability: float, fault: Fault, seed: int = 0
    ) -> None:
        """From now on each call of `operation` fails with `fault` with this probability
        (seeded: the same sequence every run)."""
        self._random_faults[operation] = (probability, fault, random.Random(seed))  # noqa: S311 - fault simulation, not security

    def inject(self, operation: str, *faults: Fault) -> None:
        """The next calls of `operation` (authorize, confirm, capture, void, refund) fail so."""
        self._faults[operation].extend(faults)

    # --- the gateway ----------------------------------------------------------------------
    async def _network(self) -> None:
        if self._half_latency:
            await asyncio.sleep(self._half_latency)

    async def _perform(self, operation: str, key: str, act: Act) -> GatewayOutcome:
        await self._network()
        fault = self._faults[operation].popleft() if self._faults[operation] else None
        if fault is None and operation in self._random_faults:
            probability, random_fault, rng = self._random_faults[operation]
            fault = random_fault if rng.random() < probability else None
        if fault is None and self._fault_file is not None:
            fault = await self._external_fault(self._fault_file)
        if fault is Fault.UNAVAILABLE:
            raise GatewayUnavailable("simulator: service unavailable")
        if fault is Fault.TIMEOUT_BEFORE:
            raise GatewayOutcomeUnknown("simulator: timed out before acting")
        try:
            async with self.ledger.book() as book:
                outcome = await book.answer(key)
                if outcome is None:  # a repeated key replays the first answer
                    outcome = await act(book)
                    await book.save_answer(key, outcome)
        except (SQLAlchemyError, OSError) as books_down:
            # Its books in PostgreSQL (SIMULATOR_LEDGER=database) went away mid-call: to the
            # caller, a gateway that stopped answering - the outcome is unknown, not a bug.
            raise GatewayOutcomeUnknown("simulator: its books are unreachable") from books_down
        if fault is Fault.TIMEOUT_AFTER:
            raise GatewayOutcomeUnknown("simulator: timed out after acting")
        await self._network()
        return outcome

    @staticmethod
    async def _external_fault(source: FaultFile) -> Fault | None:
        plan = source.current()
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        return plan.draw(source.rng)

    def _new_reference(self, prefix: str) -> str:
        # Globally unique, like a real gateway's ids: a restarted simulator must not reuse one.
        return f"{prefix}_sim_{uuid.uuid4().hex[:24]}"

    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        try:
            async with self.ledger.book() as book:
                return await book.answer(request.idempotency_key)
        except (SQLAlchemyError, OSError) as books_down:  # the reconciler asks again later
            raise GatewayUnavailable("simulator: its books are unreachable") from books_down

    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        async def act(book: LedgerBook) -> GatewayOutcome:
            reference = self._new_reference("pi")
            amount = request.amount
            card = CARDS.get(request.payment_method_token)
            status = "declined"
            sent, granted = simulated_exemption(request)
            if request.payment_method_type.is_card and card is None:
                outcome = GatewayOutcome.declined(
                    "PAYMENT_METHOD_TOKEN_INVALID", "No such payment method.", reference
                )
            elif card is not None and card.decline_code:
                outcome = GatewayOutcome.declined(card.decline_code, card.decline_reason, reference)
            elif card is not None and card.requires_action and not granted:
                url = f"{self._action_base_url}/{reference}"
                outcome = GatewayOutcome(
                    OutcomeStatus.REQUIRES_ACTION,
                    reference,
                    next_action=NextAction(NextActionType.REDIRECT_TO_URL, url),
                )
                status = "requires_action"
            else:
                # An exempted payment skips 3-D Secure: the liability stays with the merchant.
                shift = False if granted and card is not None and card.requires_action else None
                outcome, status = (
                    GatewayOutcome(OutcomeStatus.SUCCEEDED, reference, liability_shift=shift),
                    "authorized",
                )
                await book.add_effect("authorize", request.idempotency_key, amount.amount_minor)
            outcome = replace(outcome, sca_exemption_sent=sent, sca_exemption_applied=granted)
            await book.save_charge(
                SimulatedCharge(
                    reference, amount.amount_minor, amount.currency, status,
                    created_at=datetime.now(UTC).isoformat(),
                )
            )  # fmt: skip
            return outcome

        return await self._perform("authorize", request.idempotency_key, act)

    def fail_authentication(self, reference: str) -> None:
        """The customer will fail the 3-D Secure challenge of this charge."""
        self._failed_authentications.add(reference)

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        async def act(book: LedgerBook) -> GatewayOutcome:
            charge = await book.charge(request.gateway_payment_id)
            if charge is None or charge.status != "requires_action":
                return GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to confirm.")
            if charge.reference in self._failed_authentications:
                charge.status = "declined"
                await book.save_charge(charge)
                return GatewayOutcome(
                    OutcomeStatus.DECLINED,
                    charge.reference,
                    failure_code="AUTHENTICATION_FAILED",
                    failure_reason="The customer failed 3-D Secure authentication.",
                    liability_shift=False,
                )
            charge.status = "authorized"
            await book.save_charge(charge)
            await book.add_effect("authorize", request.idempotency_key, charge.amount_minor)
            return GatewayOutcome(OutcomeStatus.SUCCEEDED, charge.reference, liability_shift=True)

        return await self._perform("confirm", request.idempotency_key, act)

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        async def act(book: LedgerBook) -> GatewayOutcome:
            charge = await book.charge(request.gateway_payment_id)
            amount = request.amount.amount_minor
            if charge is None or charge.status != "authorized":
                return GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to capture.")
            if amount > charge.amount_minor:
                return GatewayOutcome.declined("AMOUNT_TOO_LARGE", "Exceeds the authorization.")
            charge.status, charge.captured_minor = "captured", amount
            await book.save_charge(charge)
            await book.add_effect("capture", request.idempotency_key, amount)
            return GatewayOutcome.succeeded(self._new_reference("ch"))

        return await self._perform("capture", request.idempotency_key, act)

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        async def act(book: LedgerBook) -> GatewayOutcome:
            charge = await book.charge(request.gateway_payment_id)
            if charge is None or charge.status not in ("authorized", "requires_action"):
                return GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to void.")
            charge.status = "voided"
            await book.save_charge(charge)
            await book.add_effect("void", request.idempotency_key, charge.amount_minor)
            return GatewayOutcome.succeeded(charge.reference)

        return await self._perform("void", request.idempotency_key, act)

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        async def act(book: LedgerBook) -> GatewayOutcome:
            charge = await book.charge(request.gateway_payment_id)
            amount = request.amount.amount_minor
            if charge is None or charge.status != "captured":
                return GatewayOutcome.declined("INVALID_GATEWAY_STATE", "Nothing to refund.")
            if charge.refunded_minor + amount > charge.captured_minor:
                return GatewayOutcome.declined("AMOUNT_TOO_LARGE", "Exceeds the captured amount.")
            reference = self._new_reference("re")
            charge.refunded_minor += amount
            charge.refunds.append(reference)
            await book.save_charge(charge)
            await book.add_effect("refund", request.idempotency_key, amount)
            return GatewayOutcome.succeeded(reference)

        return await self._perform("refund", request.idempotency_key, act)

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        return request.customer_reference or f"cus_sim_{request.owner_id.replace('-', '')[:24]}"

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
        return PaymentMethodDetails(
            method_type,
            card.brand,
            card.last4,
            month,
            year,
            card_bin=card.bin,
            card_fingerprint=card.fingerprint,
        )


Act = Callable[[LedgerBook], Awaitable[GatewayOutcome]]
