"""An admin's decision on a payment the fraud checks held for review (ReviewPayment)."""

from __future__ import annotations

from domain.audit import AuditAction
from domain.commands import ReviewPayment
from domain.payment import Payment
from domain.risk import ReviewOutcome, RiskReview
from domain.usecases.deps import Deps, validate
from domain.usecases.operations import run_authorization


async def review_payment(cmd: ReviewPayment, deps: Deps) -> Payment:
    """REJECTED fails the payment (FRAUD_SUSPECTED, payment.failed). APPROVED authorizes it
    at its gateway: the approval and the authorization intent are one transaction, so a
    payment is never left approved with nothing started (or started without approval)."""
    validate(cmd)
    assert cmd.decision is not None
    review = RiskReview(cmd.decision, cmd.reviewer, cmd.reason.strip(), deps.clock.now())
    if cmd.decision is ReviewOutcome.REJECTED:
        async with deps.uow as uow:
            payment = await uow.payments.get_for_update(cmd.payment_id)
            payment.reject_review(review, deps.clock.now(), deps.ids.new_id())
            await uow.payments.save(payment)
            uow.describe(payment, AuditAction.ADMIN_REVIEW_REJECT, reason=review.reason)
            await uow.commit()
        return payment

    def approve(payment: Payment) -> None:
        # Runs inside the transaction that starts the authorization (deps.uow is entered):
        # the approval, its audit row and the authorization intent commit together.
        payment.approve_review(review, deps.clock.now())
        deps.uow.describe(payment, AuditAction.ADMIN_REVIEW_APPROVE, reason=review.reason)

    return await run_authorization(deps, cmd.payment_id, prepare=approve, retry=True)
