"""The fraud check before an authorization, and what a REVIEW or BLOCK does to the payment.

The check runs outside any database transaction (it may ask Redis and an external scorer);
its ALLOW verdict is stored with the authorization intent, in the same transaction. A payment
an admin approved in review is not checked again for the same payment method: the human's
decision stands for its later attempts (a retry after the gateway was unreachable).
"""

from __future__ import annotations

import hashlib

from domain.audit import AuditAction
from domain.errors import FraudSuspected, PaymentMethodNotFound
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.risk import RiskAssessment, RiskDecision, RiskSubject
from domain.usecases.deps import Deps


def card_key(method: PaymentMethod | None, token: str | None) -> str | None:
    """How velocity counters know the card: the gateway's fingerprint (the same for every
    token of one card), else the saved method, else a digest of the token (never the token
    itself: it may be reusable)."""
    if method is not None:
        return f"fp:{method.card_fingerprint}" if method.card_fingerprint else f"pm:{method.id}"
    if token:
        return "tok:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return None


def risk_subject(payment: Payment, method: PaymentMethod | None, token: str | None) -> RiskSubject:
    return RiskSubject(
        payment_id=payment.id,
        user_id=payment.user_id,
        amount=payment.amount,
        country=payment.country,
        method_type=payment.payment_method_type,
        card_key=card_key(method, token),
        card_bin=method.card_bin if method is not None else None,
    )


async def assess_authorization(
    deps: Deps, payment_id: str, new_method: PaymentMethod | None, new_token: str | None
) -> RiskAssessment | None:
    """The verdict on authorizing the payment (with a new method or token, if given); None
    when no check is due. Raises what authorizing it would raise (wrong state, open
    operation, rejected in review) before anything is counted."""
    assert deps.risk is not None
    async with deps.uow as uow:
        payment = await uow.payments.get(payment_id)
        method = new_method
        if method is None and not new_token and payment.payment_method_id:
            try:
                method = await uow.payment_methods.get(payment.payment_method_id)
            except PaymentMethodNotFound:  # deleted since: its token is still charged
                method = None
    payment.require_authorizable()
    if payment.risk.approved and new_method is None and not new_token:
        return None
    token = new_token or (None if method is not None else payment.payment_method_token)
    return await deps.risk.assess(risk_subject(payment, method, token), deps.clock.now())


async def hold_or_block(deps: Deps, payment_id: str, assessment: RiskAssessment) -> Payment:
    """REVIEW: the payment waits UNDER_REVIEW (returned). BLOCK: it fails with
    FRAUD_SUSPECTED (raised, after the FAILED payment and its event are committed)."""
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        if assessment.decision is RiskDecision.BLOCK:
            payment.block_for_fraud(assessment, deps.clock.now(), deps.ids.new_id())
            action = AuditAction.PAYMENT_RISK_BLOCK
        else:
            payment.hold_for_review(assessment, deps.clock.now(), deps.ids.new_id())
            action = AuditAction.PAYMENT_RISK_HOLD
        await uow.payments.save(payment)
        uow.describe(payment, action, extra={"rules_hit": list(assessment.rules_hit)})
        await uow.commit()
    if assessment.decision is RiskDecision.BLOCK:
        raise FraudSuspected(
            "the payment was refused by the fraud checks",
            metadata={"payment_id": payment.id, "status": payment.status.value},
        )
    return payment
