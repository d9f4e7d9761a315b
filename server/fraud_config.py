"""The fraud checks' policy from the FRAUD_* settings (see docs/security.md, "Fraud checks")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from domain.risk import RiskDecision
from domain.risk_rules import RiskPolicy

if TYPE_CHECKING:
    from server.config import Settings

FailMode = Literal["open", "review", "closed"]
# What a counter store or scorer that cannot answer decides.
FAIL_MODES: dict[str, RiskDecision] = {
    "open": RiskDecision.ALLOW,
    "review": RiskDecision.REVIEW,
    "closed": RiskDecision.BLOCK,
}
_LIMIT = re.compile(r"^([A-Z]{3}):(\d{1,15})$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_BIN = re.compile(r"^\d{4,8}$")


def _items(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def amount_limits(value: str, name: str) -> dict[str, int]:
    """'EUR:500000,JPY:80000' -> {'EUR': 500000, 'JPY': 80000}: minor units, no decimals."""
    limits: dict[str, int] = {}
    for item in _items(value):
        match = _LIMIT.match(item.upper())
        if match is None:
            raise ValueError(f"{name}: {item!r} is not CURRENCY:AMOUNT_IN_MINOR_UNITS")
        limits[match.group(1)] = int(match.group(2))
    return limits


def codes(value: str, pattern: re.Pattern[str], name: str, what: str) -> frozenset[str]:
    found = frozenset(item.upper() for item in _items(value))
    for item in found:
        if not pattern.match(item):
            raise ValueError(f"{name}: {item!r} is not {what}")
    return found


def risk_policy(s: Settings) -> RiskPolicy:
    """Raises ValueError naming the setting that is wrong."""
    if s.fraud_scorer_review_score > s.fraud_scorer_block_score:
        raise ValueError("FRAUD_SCORER_REVIEW_SCORE must not exceed FRAUD_SCORER_BLOCK_SCORE")
    return RiskPolicy(
        review_amount_minor=amount_limits(
            s.fraud_review_amount_limits, "FRAUD_REVIEW_AMOUNT_LIMITS"
        ),
        block_amount_minor=amount_limits(s.fraud_block_amount_limits, "FRAUD_BLOCK_AMOUNT_LIMITS"),
        blocked_countries=codes(
            s.fraud_blocked_countries, _COUNTRY, "FRAUD_BLOCKED_COUNTRIES", "an ISO 3166 code"
        ),
        blocked_bins=codes(s.fraud_blocked_bins, _BIN, "FRAUD_BLOCKED_BINS", "4 to 8 digits"),
        velocity_window=timedelta(seconds=s.fraud_velocity_window_seconds),
        max_payments_per_user=s.fraud_velocity_max_per_user,
        max_payments_per_card=s.fraud_velocity_max_per_card,
        velocity_decision=(
            RiskDecision.BLOCK if s.fraud_velocity_action == "block" else RiskDecision.REVIEW
        ),
        velocity_unavailable=FAIL_MODES[s.fraud_velocity_fail_mode],
        scorer_review_score=s.fraud_scorer_review_score,
        scorer_block_score=s.fraud_scorer_block_score,
        scorer_unavailable=FAIL_MODES[s.fraud_scorer_fail_mode],
    )
