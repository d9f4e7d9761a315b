"""The fraud check run before every authorization: built-in rules, velocity counters and an
optional external scorer, combined into one verdict (the RiskAssessor port)."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from domain import risk_rules as r
from domain.risk import (
    RiskAssessment,
    RiskDecision,
    RiskScorer,
    RiskSignalUnavailable,
    RiskSubject,
    RuleHit,
    VelocityCounter,
)

log = logging.getLogger("payments.fraud")

# An outage is reported once per this many seconds, not once per payment.
WARN_EVERY_SECONDS = 30.0


class RiskEngine:
    def __init__(
        self,
        policy: r.RiskPolicy,
        *,
        velocity: VelocityCounter | None = None,
        scorer: RiskScorer | None = None,
    ) -> None:
        self.policy = policy
        self._velocity = velocity
        self._scorer = scorer
        self._warned_at: dict[str, float] = {}

    async def assess(self, subject: RiskSubject, now: datetime) -> RiskAssessment:
        hits = r.static_rules(subject, self.policy)
        # Counted even when a static rule already blocks: the attempt happened.
        hits += await self._velocity_hits(subject)
        score: int | None = None
        if (
            self._scorer is not None
            and RiskDecision.strictest([hit.decision for hit in hits]) is not RiskDecision.BLOCK
        ):
            try:
                score = await self._scorer.score(subject)
            except RiskSignalUnavailable as exc:
                hits.append(
                    self._unavailable(r.SCORER_UNAVAILABLE, self.policy.scorer_unavailable, exc)
                )
            else:
                hit = r.score_rule(score, self.policy)
                hits += [hit] if hit else []
        assessment = RiskAssessment.of(hits, now, score)
        if assessment.decision is not RiskDecision.ALLOW:
            log.info(
                "fraud check: %s (%s)",
                assessment.decision.value,
                "; ".join(f"{h.rule}: {h.detail}" for h in hits),
                extra={"payment_id": subject.payment_id},
            )
        return assessment

    async def _velocity_hits(self, subject: RiskSubject) -> list[RuleHit]:
        keys = r.velocity_keys(subject, self.policy)
        if not keys:
            return []
        if self._velocity is None:
            return [self._unavailable(
                r.VELOCITY_UNAVAILABLE, self.policy.velocity_unavailable, "no counter store"
            )]  # fmt: skip
        try:
            counts = await self._velocity.count(
                list(keys), subject.payment_id, self.policy.velocity_window
            )
        except RiskSignalUnavailable as exc:
            return [
                self._unavailable(r.VELOCITY_UNAVAILABLE, self.policy.velocity_unavailable, exc)
            ]
        hits = []
        for (rule, limit), count in zip(keys.values(), counts, strict=True):
            hit = r.velocity_rule(rule, count, limit, self.policy)
            if hit is not None:
                hits.append(hit)
        return hits

    def _unavailable(self, rule: str, decision: RiskDecision, why: object) -> RuleHit:
        now = time.monotonic()
        if now - self._warned_at.get(rule, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
            self._warned_at[rule] = now
            action = "skipped (fail open)" if decision is RiskDecision.ALLOW else decision.value
            log.warning("fraud check %s: %s; %s", rule, why, action)
        return r.unavailable_rule(rule, decision, str(why))
