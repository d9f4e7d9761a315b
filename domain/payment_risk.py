"""What the fraud checks said about a Payment, and an administrator's review of it: one
value object. A new assessment forgets the review of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass

from domain.risk import ReviewOutcome, RiskAssessment, RiskReview


@dataclass(frozen=True, slots=True)
class PaymentRisk:
    # The fraud checks' verdict on the latest authorization attempt.
    assessment: RiskAssessment | None = None
    # An admin's decision on it, when it asked for a review.
    review: RiskReview | None = None

    def assessed(self, assessment: RiskAssessment) -> PaymentRisk:
        return PaymentRisk(assessment)

    def reviewed(self, review: RiskReview) -> PaymentRisk:
        return PaymentRisk(self.assessment, review)

    @property
    def approved(self) -> bool:
        return self.review is not None and self.review.outcome is ReviewOutcome.APPROVED

    @property
    def rejected(self) -> bool:
        return self.review is not None and self.review.outcome is ReviewOutcome.REJECTED
