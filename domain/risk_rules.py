"""The built-in fraud rules: pure functions of what is assessed and the configured policy.

Each rule that fires is a RuleHit carrying the decision it asks for; the verdict is the
strictest of them (risk.RiskAssessment.of). Counters and the scorer's answer come in as plain
numbers, so that every rule can be tested without Redis or HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from domain.risk import RiskDecision, RiskSubject, RuleHit

D = RiskDecision

AMOUNT_OVER_REVIEW_LIMIT = "AMOUNT_OVER_REVIEW_LIMIT"
AMOUNT_OVER_BLOCK_LIMIT = "AMOUNT_OVER_BLOCK_LIMIT"
BLOCKED_COUNTRY = "BLOCKED_COUNTRY"
BLOCKED_BIN = "BLOCKED_BIN"
VELOCITY_USER = "VELOCITY_USER"
VELOCITY_CARD = "VELOCITY_CARD"
VELOCITY_UNAVAILABLE = "VELOCITY_UNAVAILABLE"
SCORER_REVIEW = "SCORER_REVIEW"
SCORER_BLOCK = "SCORER_BLOCK"
SCORER_UNAVAILABLE = "SCORER_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    # Per currency, in minor units: an amount above the limit is reviewed / blocked.
    review_amount_minor: Mapping[str, int] = field(default_factory=dict)
    block_amount_minor: Mapping[str, int] = field(default_factory=dict)
    # ISO 3166-1 alpha-2 codes, and BIN prefixes (the card number's first 6-8 digits).
    blocked_countries: frozenset[str] = frozenset()
    blocked_bins: frozenset[str] = frozenset()
    # At most this many distinct payments per user / per card within the window (0: no limit).
    velocity_window: timedelta = timedelta(hours=1)
    max_payments_per_user: int = 0
    max_payments_per_card: int = 0
    velocity_decision: RiskDecision = D.BLOCK
    # The external scorer's score (0-100) from which a payment is reviewed / blocked.
    scorer_review_score: int = 60
    scorer_block_score: int = 85
    # What a counter store or scorer that cannot answer decides: ALLOW is "fail open" (the
    # rule is skipped, the hit recorded), BLOCK is "fail closed", REVIEW holds the payment.
    velocity_unavailable: RiskDecision = D.ALLOW
    scorer_unavailable: RiskDecision = D.ALLOW

    @property
    def counts_velocity(self) -> bool:
        return self.max_payments_per_user > 0 or self.max_payments_per_card > 0

    @property
    def has_rules(self) -> bool:
        """Whether any built-in rule can fire at all."""
        return bool(
            self.review_amount_minor
            or self.block_amount_minor
            or self.blocked_countries
            or self.blocked_bins
            or self.counts_velocity
        )


def amount_rule(subject: RiskSubject, policy: RiskPolicy) -> RuleHit | None:
    amount, currency = subject.amount.amount_minor, subject.amount.currency
    block = policy.block_amount_minor.get(currency)
    if block is not None and amount > block:
        return RuleHit(AMOUNT_OVER_BLOCK_LIMIT, D.BLOCK, f"{amount} {currency} > {block}")
    review = policy.review_amount_minor.get(currency)
    if review is not None and amount > review:
        return RuleHit(AMOUNT_OVER_REVIEW_LIMIT, D.REVIEW, f"{amount} {currency} > {review}")
    return None


def country_rule(subject: RiskSubject, policy: RiskPolicy) -> RuleHit | None:
    if subject.country and subject.country.upper() in policy.blocked_countries:
        return RuleHit(BLOCKED_COUNTRY, D.BLOCK, f"country {subject.country}")
    return None


def bin_rule(subject: RiskSubject, policy: RiskPolicy) -> RuleHit | None:
    """A BIN prefix in the list blocks the card; a card whose BIN is unknown passes."""
    if subject.card_bin and any(subject.card_bin.startswith(b) for b in policy.blocked_bins):
        return RuleHit(BLOCKED_BIN, D.BLOCK, f"BIN {subject.card_bin}")
    return None


def static_rules(subject: RiskSubject, policy: RiskPolicy) -> list[RuleHit]:
    """The rules that need nothing but the payment."""
    found = (amount_rule(subject, policy), country_rule(subject, policy), bin_rule(subject, policy))
    return [hit for hit in found if hit is not None]


def velocity_keys(subject: RiskSubject, policy: RiskPolicy) -> dict[str, tuple[str, int]]:
    """Counter key -> (rule, limit) for each velocity limit that applies to the subject."""
    keys: dict[str, tuple[str, int]] = {}
    if policy.max_payments_per_user > 0:
        keys[f"user:{subject.user_id}"] = (VELOCITY_USER, policy.max_payments_per_user)
    if policy.max_payments_per_card > 0 and subject.card_key:
        keys[f"card:{subject.card_key}"] = (VELOCITY_CARD, policy.max_payments_per_card)
    return keys


def velocity_rule(rule: str, count: int, limit: int, policy: RiskPolicy) -> RuleHit | None:
    """`count` includes the payment being assessed: the limit-th payment still passes."""
    if count > limit:
        return RuleHit(rule, policy.velocity_decision, f"{count} payments in the window > {limit}")
    return None


def score_rule(score: int, policy: RiskPolicy) -> RuleHit | None:
    if score >= policy.scorer_block_score:
        return RuleHit(SCORER_BLOCK, D.BLOCK, f"score {score}")
    if score >= policy.scorer_review_score:
        return RuleHit(SCORER_REVIEW, D.REVIEW, f"score {score}")
    return None


def unavailable_rule(rule: str, decision: RiskDecision, detail: str) -> RuleHit:
    """Recorded even when it allows (fail open), so that a skipped check shows."""
    return RuleHit(rule, decision, detail)
