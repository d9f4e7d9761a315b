"""The fraud checks' transitions of a Payment: held for review, blocked, approved or rejected
by an administrator. A part of the aggregate (Payment inherits it), kept apart so that the
aggregate's module stays readable; it uses the aggregate's own guards and moves."""

from __future__ import annotations

from datetime import datetime

from domain.enums import PaymentStatus
from domain.errors import InvalidStateTransition, PaymentNotUnderReview
from domain.events import DomainEvent, PaymentRequiresReview
from domain.gateway import NextAction
from domain.payment_states import AUTHORIZABLE, S
from domain.risk import FRAUD_SUSPECTED, ReviewOutcome, RiskAssessment, RiskReview


class RiskReviewTransitions:
    # What these transitions use of the aggregate; Payment (a slotted dataclass) defines it.

    id: str
    order_id: str
    status: PaymentStatus
    risk: RiskAssessment | None
    review: RiskReview | None
    failure_code: str | None
    failure_reason: str | None
    next_action: NextAction | None
    events: list[DomainEvent]

    def _require_status(self, allowed: frozenset[PaymentStatus], operation: str) -> None:
        raise NotImplementedError

    def _require_no_open_operation(self, *, except_refunds: bool = False) -> None:
        raise NotImplementedError

    def _move_to(self, target: PaymentStatus, now: datetime) -> None:
        raise NotImplementedError

    def _fail(self, code: str, reason: str, now: datetime, event_id: str) -> None:
        raise NotImplementedError

    def require_authorizable(self) -> None:
        self._require_status(AUTHORIZABLE, "authorize")
        self._require_no_open_operation()
        if self.review is not None and self.review.outcome is ReviewOutcome.REJECTED:
            raise InvalidStateTransition(
                "a payment rejected in review cannot be authorized again",
                metadata={"payment_id": self.id, "status": self.status.value},
            )

    @property
    def review_approved(self) -> bool:
        return self.review is not None and self.review.outcome is ReviewOutcome.APPROVED

    def record_risk(self, assessment: RiskAssessment) -> None:
        """A new verdict; an earlier review was about an earlier one."""
        self.risk, self.review = assessment, None

    def block_for_fraud(self, assessment: RiskAssessment, now: datetime, event_id: str) -> None:
        self.require_authorizable()
        self.record_risk(assessment)
        self._fail(FRAUD_SUSPECTED, "refused by the fraud checks", now, event_id)

    def hold_for_review(self, assessment: RiskAssessment, now: datetime, event_id: str) -> None:
        self.require_authorizable()
        self.record_risk(assessment)
        self._move_to(S.UNDER_REVIEW, now)
        self.failure_code = self.failure_reason = None
        self.next_action = None
        self.events.append(
            PaymentRequiresReview(event_id, self.id, self.order_id, now, assessment.rules_hit)
        )

    def _require_under_review(self) -> None:
        if self.status is not S.UNDER_REVIEW:
            raise PaymentNotUnderReview(
                f"the payment is {self.status.value}, not under review",
                metadata={"payment_id": self.id, "status": self.status.value},
            )

    def approve_review(self, review: RiskReview, now: datetime) -> None:
        """Back to PENDING; the caller begins the authorization in the same transaction."""
        self._require_under_review()
        self.review = review
        self._move_to(S.PENDING, now)

    def reject_review(self, review: RiskReview, now: datetime, event_id: str) -> None:
        self._require_under_review()
        self.review = review
        self._fail(FRAUD_SUSPECTED, f"rejected in review: {review.reason}"[:500], now, event_id)
