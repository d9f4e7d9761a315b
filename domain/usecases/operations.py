"""Authorize, capture and cancel: each one gateway operation run in atomic phases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.audit import AuditAction
from domain.commands import (
    AuthorizePayment,
    CancelPayment,
    CapturePayment,
    ConfirmPayment,
    CreatePayment,
)
from domain.enums import PaymentStatus
from domain.errors import (
    DomainError,
    GatewayUnavailable,
    PaymentMethodUnusable,
    ScaExemptionUnsupported,
)
from domain.gateway import (
    AuthorizationRequest,
    ConfirmRequest,
    GatewayOperationRequest,
    GatewayOutcome,
    PaymentGateway,
)
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.retry import is_soft
from domain.risk import RiskDecision
from domain.transaction import Transaction
from domain.usecases.deps import Deps, validate
from domain.usecases.gateway_step import GatewayOperation, declined, run_gateway_step
from domain.usecases.payments import create_payment, usable_saved_method
from domain.usecases.retries import schedule_authorization_retry
from domain.usecases.risk_checks import assess_authorization, hold_or_block


def _operation_request(payment: Payment, txn: Transaction) -> GatewayOperationRequest:
    assert payment.gateway_payment_id is not None
    return GatewayOperationRequest(txn.idempotency_key, payment.gateway_payment_id, txn.amount)


def _raise_if_declined(payment: Payment, txn: Transaction) -> None:
    error = declined(payment, txn)
    if error is not None:
        raise error


async def authorize_payment(cmd: AuthorizePayment, deps: Deps, *, retry: bool = True) -> Payment:
    """Authorize, after the fraud check; with `retry`, a soft failure also schedules the first
    automatic retry (the retry worker itself passes False and reschedules on its own)."""
    validate(cmd)
    saved: PaymentMethod | None = None
    if cmd.payment_method_id:
        async with deps.uow as uow:
            current = await uow.payments.get(cmd.payment_id)
        saved = await usable_saved_method(deps, cmd.payment_method_id, current.user_id)
        if saved.gateway is not current.gateway:  # its token means nothing to this gateway
            raise PaymentMethodUnusable(
                "the saved method belongs to another gateway",
                metadata={"payment_method_id": saved.id, "gateway": saved.gateway.value},
            )
        if saved.type is not current.payment_method_type:
            raise PaymentMethodUnusable(
                f"the payment is paid by {current.payment_method_type.value}, "
                f"the saved method is {saved.type.value}",
                metadata={"payment_method_id": saved.id, "type": saved.type.value},
            )
    assessment = None
    if deps.risk is not None:
        token = cmd.payment_method_token or None
        assessment = await assess_authorization(deps, cmd.payment_id, saved, token)
        if assessment is not None and assessment.decision is not RiskDecision.ALLOW:
            return await hold_or_block(deps, cmd.payment_id, assessment)

    def prepare(payment: Payment) -> None:
        if assessment is not None:
            payment.record_risk(assessment)

    return await run_authorization(
        deps,
        cmd.payment_id,
        NewMethod.of(saved, cmd.payment_method_token),
        prepare=prepare,
        retry=retry,
    )


@dataclass(frozen=True, slots=True)
class NewMethod:
    """What an authorization charges instead of the payment's own method, if anything."""

    method_id: str | None = None
    token: str | None = None
    customer: str | None = None

    @classmethod
    def of(cls, saved: PaymentMethod | None, token: str) -> NewMethod:
        if saved is not None:
            return cls(saved.id, saved.token, saved.gateway_customer_id)
        return cls(token=token or None)


async def run_authorization(
    deps: Deps,
    payment_id: str,
    method: NewMethod = NewMethod(),  # frozen: a shared default is safe
    *,
    prepare: Callable[[Payment], None],
    retry: bool,
) -> Payment:
    """The gateway authorization (with failover and retry scheduling). `prepare` changes the
    payment in the same transaction as the authorization intent, once: records the fraud
    verdict, or the admin's approval."""
    first = True
    while True:
        try:
            payment = await run_gateway_step(
                deps, payment_id, Authorization(deps, method, prepare if first else None)
            )
            break
        except GatewayUnavailable as unavailable:
            # Proven: nothing was charged. A timeout (GatewayOutcomeUnknown) never gets here:
            # the charge may have happened, and the reconciler must settle it first.
            first = False  # the intent (and what `prepare` changed) is committed
            if await _fail_over(deps, payment_id):
                continue
            if retry:
                await schedule_authorization_retry(deps, payment_id, 1, unavailable.reason)
            raise
    if payment.status is PaymentStatus.FAILED:
        failed = payment.transactions[-1]
        if retry and is_soft(failed.failure_code):
            await schedule_authorization_retry(deps, payment.id, 1, failed.failure_code or "")
        _raise_if_declined(payment, failed)
    return await capture_if_asked(payment, deps)


async def capture_if_asked(payment: Payment, deps: Deps) -> Payment:
    """The payment captured in full when it is AUTHORIZED and was created to be captured once
    authorized; otherwise as it is. A failed capture leaves it AUTHORIZED (capturable later)
    and raises like CapturePayment."""
    if payment.status is not PaymentStatus.AUTHORIZED or not payment.capture_on_authorization:
        return payment
    return await capture_payment(CapturePayment(payment.id), deps)


async def confirm_payment(cmd: ConfirmPayment, deps: Deps) -> Payment:
    """After the customer's 3-D Secure challenge or PayPal approval."""
    validate(cmd)
    payment = await run_gateway_step(deps, cmd.payment_id, Confirmation(deps))
    if payment.status is PaymentStatus.FAILED:
        _raise_if_declined(payment, payment.transactions[-1])
    return await capture_if_asked(payment, deps)


async def _fail_over(deps: Deps, payment_id: str) -> bool:
    """Move the payment to the next gateway of its route whose circuit is closed."""
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        if not payment.can_fail_over:
            return False
        try:
            # Only gateways that can send the payment's exemption too: never fail over to one
            # that would drop it.
            candidates = deps.gateways.candidates(
                payment.payment_method_type, payment.currency, payment.country, None,
                sca_exemption=payment.authentication.sca_exemption,
            )  # fmt: skip
        except ScaExemptionUnsupported:
            return False
        # Only gateways after the current one in routing order: each failover moves forward,
        # so the loop in authorize_payment ends.
        if payment.gateway not in candidates:
            return False
        for gateway in candidates[candidates.index(payment.gateway) + 1 :]:
            if not await deps.breaker.is_open(gateway):
                payment.fail_over_to(gateway, deps.clock.now())
                await uow.payments.save(payment)
                uow.describe(payment, AuditAction.PAYMENT_FAIL_OVER)
                await uow.commit()
                return True
    return False


async def create_and_authorize(cmd: CreatePayment, deps: Deps) -> Payment:
    """Create, then authorize when the command asks for it."""
    payment = await create_payment(cmd, deps)
    if not cmd.authorize:
        return payment
    try:
        return await authorize_payment(
            AuthorizePayment(payment.id, request_id=cmd.request_id), deps
        )
    except DomainError as error:
        # The payment exists even though authorizing it failed: say which one it is.
        error.metadata.setdefault("payment_id", payment.id)
        raise


async def capture_payment(cmd: CapturePayment, deps: Deps) -> Payment:
    validate(cmd)
    payment = await run_gateway_step(deps, cmd.payment_id, Capture(deps, cmd.amount_minor))
    _raise_if_declined(payment, payment.transactions[-1])
    return payment


async def cancel_payment(cmd: CancelPayment, deps: Deps) -> Payment:
    validate(cmd)
    payment = await run_gateway_step(deps, cmd.payment_id, Cancellation(deps, cmd.reason))
    if payment.transactions and payment.status is not PaymentStatus.CANCELLED:
        _raise_if_declined(payment, payment.transactions[-1])
    return payment


class Authorization(GatewayOperation):
    """Authorize the payment's amount (with a new method, if given). `prepare`, if given,
    changes the payment first in the same transaction (the fraud verdict, an approval)."""

    action = AuditAction.PAYMENT_AUTHORIZE

    def __init__(
        self, deps: Deps, method: NewMethod, prepare: Callable[[Payment], None] | None
    ) -> None:
        self._deps, self._method, self._prepare = deps, method, prepare

    def begin(self, payment: Payment, transaction_id: str) -> Transaction:
        if self._prepare is not None:
            self._prepare(payment)
        return payment.begin_authorization(
            transaction_id=transaction_id,
            now=self._deps.clock.now(),
            payment_method_id=self._method.method_id,
            payment_method_token=self._method.token,
            gateway_customer_id=self._method.customer,
        )

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        assert payment.payment_method_token is not None
        return await gateway.authorize(
            AuthorizationRequest(
                idempotency_key=txn.idempotency_key,
                payment_id=payment.id,
                amount=txn.amount,
                payment_method_type=payment.payment_method_type,
                payment_method_token=payment.payment_method_token,
                description=payment.description,
                metadata=payment.metadata,
                return_url=payment.authentication.return_url,
                sca_exemption=payment.authentication.sca_exemption,
                customer_reference=payment.gateway_customer_id,
                country=payment.country,
            )
        )

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        payment.record_authorization(
            txn.id, outcome, self._deps.clock.now(), self._deps.ids.new_id()
        )

    def result(self, payment: Payment, txn: Transaction) -> object | None:
        if _captures_next(payment):
            return None  # the capture that follows answers the request
        return super().result(payment, txn)


def _captures_next(payment: Payment) -> bool:
    return payment.status is PaymentStatus.AUTHORIZED and payment.capture_on_authorization


class Confirmation(GatewayOperation):
    """Complete an authorization after the customer's 3-D Secure challenge or PayPal
    approval."""

    action = AuditAction.PAYMENT_CONFIRM

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def begin(self, payment: Payment, transaction_id: str) -> Transaction:
        return payment.begin_confirmation(transaction_id=transaction_id, now=self._deps.clock.now())

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        assert payment.gateway_payment_id is not None
        return await gateway.confirm(
            ConfirmRequest(txn.idempotency_key, payment.gateway_payment_id, txn.amount)
        )

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        payment.record_authorization(
            txn.id, outcome, self._deps.clock.now(), self._deps.ids.new_id()
        )

    def result(self, payment: Payment, txn: Transaction) -> object | None:
        if _captures_next(payment):
            return None
        return super().result(payment, txn)


class Capture(GatewayOperation):
    """Capture the authorized amount, or `amount_minor` of it."""

    action = AuditAction.PAYMENT_CAPTURE

    def __init__(self, deps: Deps, amount_minor: int | None) -> None:
        self._deps, self._amount_minor = deps, amount_minor

    def begin(self, payment: Payment, transaction_id: str) -> Transaction:
        return payment.begin_capture(
            transaction_id=transaction_id,
            now=self._deps.clock.now(),
            amount_minor=self._amount_minor,
        )

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        return await gateway.capture(_operation_request(payment, txn))

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        payment.record_capture(txn.id, outcome, self._deps.clock.now(), self._deps.ids.new_id())


class Cancellation(GatewayOperation):
    """Void the authorization (a payment never authorized is cancelled without a call)."""

    action = AuditAction.PAYMENT_CANCEL

    def __init__(self, deps: Deps, reason: str) -> None:
        self._deps, self._reason = deps, reason

    def begin(self, payment: Payment, transaction_id: str) -> Transaction | None:
        return payment.begin_cancellation(
            transaction_id=transaction_id,
            now=self._deps.clock.now(),
            event_id=self._deps.ids.new_id(),
            reason=self._reason,
        )

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        return await gateway.void(_operation_request(payment, txn))

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        payment.record_void(txn.id, outcome, self._deps.clock.now(), self._deps.ids.new_id())

    def result(self, payment: Payment, txn: Transaction) -> object | None:
        if payment.status is PaymentStatus.CANCELLED:
            return payment
        return super().result(payment, txn)
