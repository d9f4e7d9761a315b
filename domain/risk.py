"""Fraud checks: what is assessed before an authorization, the verdict, and the ports the
assessment runs with.

A verdict is ALLOW (the gateway is called), REVIEW (the payment is held UNDER_REVIEW until an
admin decides) or BLOCK (the payment fails with FRAUD_SUSPECTED; the gateway is never called).
The rules themselves are pure (risk_rules.py); counters and the external scorer are ports that
infra/ implements (Redis, HTTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.enums import PaymentMethodType
from domain.money import Money

FRAUD_SUSPECTED = "FRAUD_SUSPECTED"


class RiskDecision(StrEnum):
    ALLOW = "ALLOW"
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @staticmethod
    def strictest(decisions: list[RiskDecision]) -> RiskDecision:
        return max(decisions, key=lambda d: d.severity, default=RiskDecision.ALLOW)


_SEVERITY = {RiskDecision.ALLOW: 0, RiskDecision.REVIEW: 1, RiskDecision.BLOCK: 2}


class ReviewOutcome(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class RiskSubject:
    """What the checks look at. Never a card number: the card is known by the gateway's
    fingerprint, the saved method's id or a digest of the token (`card_key`), and by its BIN
    when the gateway reported one."""

    payment_id: str
    user_id: str
    amount: Money
    country: str
    method_type: PaymentMethodType
    card_key: str | None = None
    card_bin: str | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str  # stable UPPER_SNAKE code, shown in GetPayment and the events
    decision: RiskDecision
    detail: str  # for operators' logs; never shown to callers


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    decision: RiskDecision
    rules_hit: tuple[str, ...]
    assessed_at: datetime
    # The external scorer's 0-100 score; None when it was not asked or did not answer.
    score: int | None = None

    @classmethod
    def of(cls, hits: list[RuleHit], now: datetime, score: int | None = None) -> RiskAssessment:
        decision = RiskDecision.strictest([hit.decision for hit in hits])
        return cls(decision, tuple(hit.rule for hit in hits), now, score)

    def describe(self) -> str:
        return ", ".join(self.rules_hit) or "no rule"


@dataclass(frozen=True, slots=True)
class RiskReview:
    outcome: ReviewOutcome
    reviewer: str
    reason: str
    reviewed_at: datetime


class RiskSignalUnavailable(Exception):
    """A counter store or scorer could not answer in time; the policy's fail mode decides."""


class RiskAssessor(Protocol):
    async def assess(self, subject: RiskSubject, now: datetime) -> RiskAssessment: ...


class VelocityCounter(Protocol):
    async def count(self, keys: Sequence[str], member: str, window: timedelta) -> list[int]:
        """Adds `member` to each key's sliding window (once: adding it again only refreshes
        it) and returns, per key, how many distinct members its window holds. Raises
        RiskSignalUnavailable."""


class RiskScorer(Protocol):
    async def score(self, subject: RiskSubject) -> int:
        """A score from 0 (safe) to 100 (fraud). Raises RiskSignalUnavailable."""
