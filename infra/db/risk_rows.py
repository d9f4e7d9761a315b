"""The fraud checks' verdict and an admin's review, as columns of the payments row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.risk import ReviewOutcome, RiskAssessment, RiskDecision, RiskReview

Row = Mapping[Any, Any]


def risk_from_row(row: Row) -> RiskAssessment | None:
    if row["risk_decision"] is None:
        return None
    return RiskAssessment(
        decision=RiskDecision(row["risk_decision"]),
        rules_hit=tuple(row["risk_rules"] or ()),
        assessed_at=row["risk_assessed_at"],
        score=row["risk_score"],
    )


def review_from_row(row: Row) -> RiskReview | None:
    if row["review_outcome"] is None:
        return None
    return RiskReview(
        outcome=ReviewOutcome(row["review_outcome"]),
        reviewer=row["reviewed_by"],
        reason=row["review_reason"],
        reviewed_at=row["reviewed_at"],
    )


def risk_to_row(risk: RiskAssessment | None, review: RiskReview | None) -> dict[str, Any]:
    return {
        "risk_decision": risk.decision.value if risk else None,
        "risk_score": risk.score if risk else None,
        "risk_rules": list(risk.rules_hit) if risk else None,
        "risk_assessed_at": risk.assessed_at if risk else None,
        "review_outcome": review.outcome.value if review else None,
        "reviewed_by": review.reviewer if review else None,
        "review_reason": review.reason if review else None,
        "reviewed_at": review.reviewed_at if review else None,
    }
