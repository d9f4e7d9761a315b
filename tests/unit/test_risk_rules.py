"""The built-in fraud rules and the engine that combines them, with the fakes of the
counter store and the scorer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enums import PaymentMethodType
from domain.money import Money
from domain.payment_method import PaymentMethod
from domain.risk import RiskAssessment, RiskDecision, RiskSubject, RuleHit
from domain.risk_engine import RiskEngine
from domain.risk_rules import (
    AMOUNT_OVER_BLOCK_LIMIT,
    AMOUNT_OVER_REVIEW_LIMIT,
    BLOCKED_BIN,
    BLOCKED_COUNTRY,
    SCORER_BLOCK,
    SCORER_REVIEW,
    SCORER_UNAVAILABLE,
    VELOCITY_CARD,
    VELOCITY_UNAVAILABLE,
    VELOCITY_USER,
    RiskPolicy,
    amount_rule,
    bin_rule,
    country_rule,
    score_rule,
    velocity_rule,
)
from domain.usecases.risk_checks import card_key
from tests.unit.fakes import START, FakeRiskScorer, FakeVelocityCounter, FixedClock, user_id

D = RiskDecision


def subject(
    amount_minor: int = 1000,
    currency: str = "EUR",
    *,
    n: int = 1,
    user: int = 1,
    country: str = "",
    card: str | None = "fp:card-1",
    card_bin: str | None = None,
) -> RiskSubject:
    return RiskSubject(
        payment_id=f"00000000-0000-4000-8000-{n:012d}",
        user_id=user_id(user),
        amount=Money(amount_minor, currency),
        country=country,
        method_type=PaymentMethodType.CREDIT_CARD,
        card_key=card,
        card_bin=card_bin,
    )


# --- pure rules ------------------------------------------------------------------------------
LIMITS = RiskPolicy(
    review_amount_minor={"EUR": 50_000, "JPY": 50_000},
    block_amount_minor={"EUR": 500_000},
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (50_000, "EUR", None),  # at the limit: passes
        (50_001, "EUR", (AMOUNT_OVER_REVIEW_LIMIT, D.REVIEW)),
        (500_000, "EUR", (AMOUNT_OVER_REVIEW_LIMIT, D.REVIEW)),
        (500_001, "EUR", (AMOUNT_OVER_BLOCK_LIMIT, D.BLOCK)),
        (50_001, "JPY", (AMOUNT_OVER_REVIEW_LIMIT, D.REVIEW)),  # yen are minor units too
        (10**12, "USD", None),  # no limit for that currency
    ],
)
def test_amount_limits_are_per_currency_in_minor_units(
    amount: int, currency: str, expected: tuple[str, RiskDecision] | None
) -> None:
    hit = amount_rule(subject(amount, currency), LIMITS)
    assert (None if hit is None else (hit.rule, hit.decision)) == expected


def test_blocked_country_is_case_insensitive_and_absent_country_passes() -> None:
    policy = RiskPolicy(blocked_countries=frozenset({"KP"}))
    hit = country_rule(subject(country="kp"), policy)
    assert hit is not None and (hit.rule, hit.decision) == (BLOCKED_COUNTRY, D.BLOCK)
    assert country_rule(subject(country="DE"), policy) is None
    assert country_rule(subject(country=""), policy) is None


def test_blocked_bins_match_by_prefix_and_an_unknown_bin_passes() -> None:
    policy = RiskPolicy(blocked_bins=frozenset({"4000", "55555512"}))
    hit = bin_rule(subject(card_bin="400005"), policy)
    assert hit is not None and (hit.rule, hit.decision) == (BLOCKED_BIN, D.BLOCK)
    assert bin_rule(subject(card_bin="424242"), policy) is None
    assert bin_rule(subject(card_bin="555555"), policy) is None  # shorter than the prefix
    assert bin_rule(subject(card_bin=None), policy) is None


def test_velocity_limit_lets_the_limit_th_payment_through() -> None:
    policy = RiskPolicy(velocity_decision=D.REVIEW)
    assert velocity_rule(VELOCITY_USER, 3, 3, policy) is None
    hit = velocity_rule(VELOCITY_USER, 4, 3, policy)
    assert hit is not None and (hit.rule, hit.decision) == (VELOCITY_USER, D.REVIEW)


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0, None), (59, None), (60, (SCORER_REVIEW, D.REVIEW)), (84, (SCORER_REVIEW, D.REVIEW)),
     (85, (SCORER_BLOCK, D.BLOCK)), (100, (SCORER_BLOCK, D.BLOCK))],
)  # fmt: skip
def test_score_thresholds(score: int, expected: tuple[str, RiskDecision] | None) -> None:
    hit = score_rule(score, RiskPolicy(scorer_review_score=60, scorer_block_score=85))
    assert (None if hit is None else (hit.rule, hit.decision)) == expected


def test_the_verdict_is_the_strictest_hit_and_lists_every_rule() -> None:
    hits = [
        RuleHit("A", D.REVIEW, ""),
        RuleHit("B", D.BLOCK, ""),
        RuleHit("C", D.ALLOW, "skipped"),
    ]
    assessment = RiskAssessment.of(hits, START, score=12)
    assert assessment.decision is D.BLOCK
    assert assessment.rules_hit == ("A", "B", "C")
    assert assessment.score == 12
    assert RiskAssessment.of([], START).decision is D.ALLOW


def test_card_key_prefers_the_fingerprint_and_never_holds_the_token() -> None:
    method = PaymentMethod(
        "00000000-0000-4000-8000-000000000009", user_id(1),
        PaymentMethodType.CREDIT_CARD, "SIMULATOR", "pm_secret_token", START, START,  # type: ignore[arg-type]
    )  # fmt: skip
    assert card_key(method, None) == f"pm:{method.id}"
    method.card_fingerprint = "fp123"
    assert card_key(method, None) == "fp:fp123"
    key = card_key(None, "pm_secret_token")
    assert key is not None and key.startswith("tok:") and "pm_secret_token" not in key
    assert card_key(None, "pm_secret_token") == key  # stable: the same token counts together
    assert card_key(None, None) is None


# --- the engine ------------------------------------------------------------------------------
def engine(
    policy: RiskPolicy, *, scorer: FakeRiskScorer | None = None, clock: FixedClock | None = None
) -> tuple[RiskEngine, FakeVelocityCounter]:
    counter = FakeVelocityCounter(clock or FixedClock())
    return RiskEngine(policy, velocity=counter, scorer=scorer), counter


async def test_velocity_per_user_blocks_the_payment_over_the_limit() -> None:
    risk, _ = engine(RiskPolicy(max_payments_per_user=2))
    decisions = [
        (await risk.assess(subject(n=n, card=f"fp:{n}"), START)).decision for n in (1, 2, 3)
    ]
    assert decisions == [D.ALLOW, D.ALLOW, D.BLOCK]
    blocked = await risk.assess(subject(n=4, card="fp:4"), START)
    assert blocked.rules_hit == (VELOCITY_USER,)
    # Another user is counted on their own.
    assert (await risk.assess(subject(n=5, user=2), START)).decision is D.ALLOW


async def test_the_same_payment_assessed_again_is_counted_once() -> None:
    risk, _ = engine(RiskPolicy(max_payments_per_user=1))
    for _ in range(3):  # retries of one payment
        assert (await risk.assess(subject(n=1), START)).decision is D.ALLOW
    assert (await risk.assess(subject(n=2), START)).decision is D.BLOCK


async def test_the_velocity_window_slides() -> None:
    clock = FixedClock()
    risk, _ = engine(
        RiskPolicy(max_payments_per_user=1, velocity_window=timedelta(minutes=10)), clock=clock
    )
    assert (await risk.assess(subject(n=1), START)).decision is D.ALLOW
    clock.advance(timedelta(minutes=5))
    assert (await risk.assess(subject(n=2), START)).decision is D.BLOCK
    clock.advance(timedelta(minutes=5, seconds=1))  # the first left the window
    # The second has not: refused attempts count too (card testing is many refused tries).
    assert (await risk.assess(subject(n=3), START)).decision is D.BLOCK
    clock.advance(timedelta(minutes=10, seconds=1))  # all of them left
    assert (await risk.assess(subject(n=4), START)).decision is D.ALLOW


async def test_velocity_per_card_counts_across_users() -> None:
    risk, _ = engine(RiskPolicy(max_payments_per_card=2, velocity_decision=D.REVIEW))
    verdicts = [await risk.assess(subject(n=n, user=n, card="fp:shared"), START) for n in (1, 2, 3)]
    assert [v.decision for v in verdicts] == [D.ALLOW, D.ALLOW, D.REVIEW]
    assert verdicts[-1].rules_hit == (VELOCITY_CARD,)


async def test_no_velocity_limit_asks_no_counter() -> None:
    risk, counter = engine(RiskPolicy())
    assert (await risk.assess(subject(), START)).decision is D.ALLOW
    assert counter.calls == 0


@pytest.mark.parametrize(
    ("fail_mode", "decision"), [(D.ALLOW, D.ALLOW), (D.REVIEW, D.REVIEW), (D.BLOCK, D.BLOCK)]
)
async def test_an_unreachable_counter_store_follows_the_fail_mode(
    fail_mode: RiskDecision, decision: RiskDecision, caplog: pytest.LogCaptureFixture
) -> None:
    risk, counter = engine(RiskPolicy(max_payments_per_user=1, velocity_unavailable=fail_mode))
    counter.down = True
    caplog.set_level("WARNING", "payments.fraud")
    verdicts = [await risk.assess(subject(n=n), START) for n in range(5)]
    assert {v.decision for v in verdicts} == {decision}
    assert {v.rules_hit for v in verdicts} == {(VELOCITY_UNAVAILABLE,)}  # the skip shows
    # One log line for the outage, not one per payment.
    assert len([r for r in caplog.records if VELOCITY_UNAVAILABLE in r.getMessage()]) == 1


async def test_static_rules_still_apply_while_the_counter_store_is_down() -> None:
    risk, counter = engine(RiskPolicy(max_payments_per_user=1, blocked_countries=frozenset({"KP"})))
    counter.down = True
    verdict = await risk.assess(subject(country="KP"), START)
    assert verdict.decision is D.BLOCK
    assert verdict.rules_hit == (BLOCKED_COUNTRY, VELOCITY_UNAVAILABLE)


@pytest.mark.parametrize(
    ("score", "decision", "rules"),
    [(10, D.ALLOW, ()), (70, D.REVIEW, (SCORER_REVIEW,)), (95, D.BLOCK, (SCORER_BLOCK,))],
)
async def test_the_scorer_decides_by_threshold(
    score: int, decision: RiskDecision, rules: tuple[str, ...]
) -> None:
    scorer = FakeRiskScorer(score)
    risk, _ = engine(RiskPolicy(scorer_review_score=60, scorer_block_score=85), scorer=scorer)
    verdict = await risk.assess(subject(), START)
    assert (verdict.decision, verdict.rules_hit, verdict.score) == (decision, rules, score)
    assert [s.payment_id for s in scorer.subjects] == [subject().payment_id]


@pytest.mark.parametrize("fail_mode", [D.ALLOW, D.REVIEW, D.BLOCK])
async def test_an_unavailable_scorer_follows_the_fail_mode(fail_mode: RiskDecision) -> None:
    risk, _ = engine(RiskPolicy(scorer_unavailable=fail_mode), scorer=FakeRiskScorer(None))
    verdict = await risk.assess(subject(), START)
    assert (verdict.decision, verdict.rules_hit, verdict.score) == (
        fail_mode,
        (SCORER_UNAVAILABLE,),
        None,
    )


async def test_the_scorer_is_not_asked_about_a_payment_already_blocked() -> None:
    scorer = FakeRiskScorer(0)
    risk, _ = engine(RiskPolicy(block_amount_minor={"EUR": 100}), scorer=scorer)
    verdict = await risk.assess(subject(101), START)
    assert verdict.decision is D.BLOCK
    assert scorer.subjects == []
    # A review still asks it: the scorer may turn it into a block.
    risk, _ = engine(RiskPolicy(review_amount_minor={"EUR": 100}), scorer=FakeRiskScorer(99))
    assert (await risk.assess(subject(101), START)).decision is D.BLOCK
