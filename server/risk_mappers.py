"""Proto <-> domain for the fraud checks: the verdict shown on a Payment and ReviewPayment's
command. Part of the one mapping layer (mappers.py calls it)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from domain.actor import ActorKind
from domain.commands import ReviewPayment
from domain.payment import Payment
from domain.risk import ReviewOutcome
from payments.v1 import payment_pb2, payment_service_pb2
from server.context import actor_var

ADMIN_SCOPE = "admin"
_REVIEW_DECISIONS = {
    payment_pb2.REVIEW_DECISION_APPROVE: ReviewOutcome.APPROVED,
    payment_pb2.REVIEW_DECISION_REJECT: ReviewOutcome.REJECTED,
}
_REVIEW_TO_PROTO = {outcome: number for number, outcome in _REVIEW_DECISIONS.items()}


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def risk_visible() -> bool:
    """Which rules fired is for the service's operators and other services, not for the end
    user paying (it would teach a fraudster what to avoid)."""
    actor = actor_var.get()
    return actor.kind is not ActorKind.USER or ADMIN_SCOPE in actor.scopes


def risk_to_proto(payment: Payment) -> payment_pb2.RiskAssessment | None:
    risk = payment.risk.assessment
    if risk is None or not risk_visible():
        return None
    message = payment_pb2.RiskAssessment(
        decision=f"RISK_DECISION_{risk.decision.value}",
        rules_hit=list(risk.rules_hit),
        assessed_at=_ts(risk.assessed_at),
    )
    if risk.score is not None:
        message.score = risk.score
    review = payment.risk.review
    if review is not None:
        message.review.CopyFrom(
            payment_pb2.RiskReview(
                decision=_REVIEW_TO_PROTO[review.outcome],
                reviewer=review.reviewer,
                reason=review.reason,
                reviewed_at=_ts(review.reviewed_at),
            )
        )
    return message


def review_command(request: payment_service_pb2.ReviewPaymentRequest) -> ReviewPayment:
    """The reviewer is whoever is calling (set by authentication), never taken from input."""
    return ReviewPayment(
        payment_id=request.payment_id,
        decision=_REVIEW_DECISIONS.get(request.decision),
        reason=request.reason,
        reviewer=actor_var.get().subject,
        request_id=request.request_id,
    )
