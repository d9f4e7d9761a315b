"""What the fraud checks said about a Payment, and an administrator's review of it: one
value object. A new assessment forgets the review of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import PaymentStatus
from domain.errors import InvalidStateTransition, PaymentNotUnderReview
from domain.risk import ReviewOutcome, RiskAssessment, RiskReview


@dataclass(frozen=True, slots=True)
class PaymentRisk:
    # The fraud checks' verdict on the latest authorization attempt.
    assessment: RiskAssessment | None = None
    # An admin's decision on it, when it asked for a review.
    review: RiskReview | None = None

    def assessed(self, assessment: RiskAssessment) -> PaymentRisk:
        return PaymentRisk(assessment)

    def reviewed(self, review: RiskReview, payment_id: str, status: PaymentStatus) -> PaymentRisk:
        """An admin's decision, on a payment held for review (`status`)."""
        if status is not PaymentStatus.UNDER_REVIEW:
            raise PaymentNotUnderReview(
                f"the payment is {status.value}, not under review",
                metadata={"payment_id": payment_id, "status": status.value},
            )
        return PaymentRisk(self.assessment, review)

    def require_not_rejected(self, payment_id: str, status: PaymentStatus) -> None:
        if self.rejected:
            raise InvalidStateTransition(
                "a payment rejected in review cannot be authorized again",
                metadata={"payment_id": payment_id, "status": status.value},
            )

    @property
    def approved(self) -> bool:
        return self.review is not None and self.review.outcome is ReviewOutcome.APPROVED

    @property
    def rejected(self) -> bool:
        return self.review is not None and self.review.outcome is ReviewOutcome.REJECTED
