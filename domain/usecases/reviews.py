"""An admin's decision on a payment the fraud checks held for review (ReviewPayment)."""

from __future__ import annotations

from domain.audit import AuditAction
from domain.audit_records import payment_fields, record_payment
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
            before = payment_fields(payment)
            payment.reject_review(review, deps.clock.now(), deps.ids.new_id())
            record_payment(
                uow.audit, AuditAction.ADMIN_REVIEW_REJECT, before, payment, reason=review.reason
            )
            await uow.payments.save(payment)
            await uow.outbox.add(payment.pull_events())
            await uow.commit()
        return payment

    def approve(payment: Payment) -> None:
        # Runs inside the transaction that starts the authorization (deps.uow is entered):
        # the approval, its audit row and the authorization intent commit together.
        before = payment_fields(payment)
        payment.approve_review(review, deps.clock.now())
        record_payment(
            deps.uow.audit, AuditAction.ADMIN_REVIEW_APPROVE, before, payment, reason=review.reason
        )

    return await run_authorization(deps, cmd.payment_id, prepare=approve, retry=True)
