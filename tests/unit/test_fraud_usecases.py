"""The fraud check before every authorization, run through the use cases with the fakes:
BLOCK fails the payment without calling the gateway, REVIEW holds it until an admin decides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.commands import AddPaymentMethod, AuthorizePayment, CancelPayment, ReviewPayment
from domain.enums import PaymentMethodType, PaymentStatus
from domain.errors import (
    ErrorKind,
    FraudSuspected,
    GatewayUnavailable,
    InvalidStateTransition,
    PaymentNotUnderReview,
    ValidationFailed,
    reason_of,
)
from domain.events import PaymentFailed, PaymentRequiresReview
from domain.gateway import PaymentMethodDetails
from domain.retry import RetryPolicy
from domain.risk import ReviewOutcome, RiskDecision
from domain.risk_engine import RiskEngine
from domain.risk_rules import (
    AMOUNT_OVER_BLOCK_LIMIT,
    AMOUNT_OVER_REVIEW_LIMIT,
    BLOCKED_BIN,
    VELOCITY_USER,
    RiskPolicy,
)
from domain.usecases.operations import authorize_payment, cancel_payment, create_and_authorize
from domain.usecases.order_events import handle_order_cancelled, handle_order_confirmed
from domain.usecases.payment_methods import add_payment_method
from domain.usecases.retry_worker import RetryWorker
from domain.usecases.reviews import review_payment
from tests.unit.fakes import (
    FakePorts,
    FakeRiskScorer,
    FakeVelocityCounter,
    order_id,
    unavailable,
    user_id,
)
from tests.unit.test_usecases import create_command, created, stored

ADMIN = "admin@example.com"
POLICY = RiskPolicy(
    review_amount_minor={"EUR": 50_000},
    block_amount_minor={"EUR": 500_000},
    max_payments_per_user=3,
    blocked_bins=frozenset({"400000"}),
)


@pytest.fixture
def checked(ports: FakePorts) -> FakePorts:
    """Ports whose authorizations run the fraud check with POLICY."""
    ports.risk = RiskEngine(POLICY, velocity=FakeVelocityCounter(ports.clock))
    return ports


def review(payment_id: str, outcome: ReviewOutcome, reason: str = "checked") -> ReviewPayment:
    return ReviewPayment(payment_id, outcome, reason, ADMIN)


# --- BLOCK -----------------------------------------------------------------------------------
async def test_block_fails_the_payment_without_calling_the_gateway(checked: FakePorts) -> None:
    payment = await created(checked, amount_minor=500_001)
    with pytest.raises(FraudSuspected) as caught:
        await authorize_payment(AuthorizePayment(payment.id), checked.deps)
    error = caught.value
    assert reason_of(error) == "FRAUD_SUSPECTED"
    assert error.kind is ErrorKind.FAILED_PRECONDITION
    assert error.metadata == {"payment_id": payment.id, "status": "FAILED"}
    assert checked.gateway.calls_to("authorize") == []
    after = stored(checked, payment.id)
    assert (after.status, after.failure_code) == (PaymentStatus.FAILED, "FRAUD_SUSPECTED")
    assert after.transactions == []  # nothing was sent anywhere
    assert after.risk.assessment is not None
    assert (after.risk.assessment.decision, after.risk.assessment.rules_hit) == (
        RiskDecision.BLOCK,
        (AMOUNT_OVER_BLOCK_LIMIT,),
    )
    [event] = checked.uow.db.outbox
    assert isinstance(event, PaymentFailed)
    assert (event.failure_code, event.payment_id) == ("FRAUD_SUSPECTED", payment.id)


async def test_velocity_per_user_blocks_the_fourth_payment(checked: FakePorts) -> None:
    outcomes = []
    for n in range(1, 5):
        payment = await created(checked, order_id=order_id(n))
        try:
            outcomes.append(
                (await authorize_payment(AuthorizePayment(payment.id), checked.deps)).status
            )
        except FraudSuspected:
            outcomes.append(stored(checked, payment.id).status)
    assert outcomes == [PaymentStatus.AUTHORIZED] * 3 + [PaymentStatus.FAILED]
    assert len(checked.gateway.calls_to("authorize")) == 3
    blocked = stored(checked, payment.id)
    assert blocked.risk.assessment is not None and blocked.risk.assessment.rules_hit == (
        VELOCITY_USER,
    )


async def test_create_and_authorize_names_the_blocked_payment(checked: FakePorts) -> None:
    command = create_command(amount_minor=600_000, authorize=True)
    with pytest.raises(FraudSuspected) as caught:
        await create_and_authorize(command, checked.deps)
    payment_id = caught.value.metadata["payment_id"]
    assert stored(checked, payment_id).failure_code == "FRAUD_SUSPECTED"


async def test_a_blocked_bin_of_a_saved_card_is_refused(checked: FakePorts) -> None:
    checked.gateway.method_details["pm_card_chargeDeclined"] = PaymentMethodDetails(
        PaymentMethodType.CREDIT_CARD, "visa", "0002", 12, 2030, card_bin="400000",
        card_fingerprint="fp-0002",
    )  # fmt: skip
    method = await add_payment_method(
        AddPaymentMethod(user_id(1), PaymentMethodType.CREDIT_CARD, "pm_card_chargeDeclined"),
        checked.deps,
    )
    payment = await created(checked, payment_method_token="", payment_method_id=method.id)
    with pytest.raises(FraudSuspected):
        await authorize_payment(AuthorizePayment(payment.id), checked.deps)
    risk = stored(checked, payment.id).risk.assessment
    assert risk is not None and risk.rules_hit == (BLOCKED_BIN,)
    assert checked.gateway.calls_to("authorize") == []


async def test_a_blocked_payment_is_checked_again_on_the_next_attempt(
    checked: FakePorts,
) -> None:
    """FAILED by the checks is like a decline: a new attempt is assessed anew."""
    payment = await created(checked, amount_minor=500_001)
    for _ in range(2):
        with pytest.raises(FraudSuspected):
            await authorize_payment(AuthorizePayment(payment.id), checked.deps)
    assert checked.uow.event_types() == ["payment.failed", "payment.failed"]
    assert checked.gateway.calls_to("authorize") == []


# --- ALLOW -----------------------------------------------------------------------------------
async def test_allow_is_stored_with_the_authorization(checked: FakePorts) -> None:
    payment = await created(checked)
    authorized = await authorize_payment(AuthorizePayment(payment.id), checked.deps)
    assert authorized.status is PaymentStatus.AUTHORIZED
    risk = stored(checked, payment.id).risk.assessment
    assert risk is not None and (risk.decision, risk.rules_hit) == (RiskDecision.ALLOW, ())


async def test_without_a_risk_assessor_nothing_is_checked(ports: FakePorts) -> None:
    payment = await created(ports, amount_minor=10**9)
    authorized = await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert authorized.status is PaymentStatus.AUTHORIZED
    assert authorized.risk.assessment is None


async def test_a_payment_that_cannot_be_authorized_is_not_assessed(ports: FakePorts) -> None:
    scorer = FakeRiskScorer(0)
    ports.risk = RiskEngine(RiskPolicy(), scorer=scorer)
    payment = await created(ports)
    await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    with pytest.raises(InvalidStateTransition):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert len(scorer.subjects) == 1


# --- REVIEW ----------------------------------------------------------------------------------
async def held(ports: FakePorts, n: int = 1) -> str:
    payment = await created(ports, amount_minor=50_001, order_id=order_id(n))
    result = await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert result.status is PaymentStatus.UNDER_REVIEW
    return payment.id


async def test_review_holds_the_payment_without_calling_the_gateway(checked: FakePorts) -> None:
    payment_id = await held(checked)
    payment = stored(checked, payment_id)
    assert payment.status is PaymentStatus.UNDER_REVIEW
    assert payment.risk.assessment is not None and payment.risk.assessment.rules_hit == (
        AMOUNT_OVER_REVIEW_LIMIT,
    )
    assert checked.gateway.calls == []
    [event] = checked.uow.db.outbox
    assert isinstance(event, PaymentRequiresReview)
    assert event.rules_hit == (AMOUNT_OVER_REVIEW_LIMIT,)
    # Held: authorizing again is refused until an admin decides.
    with pytest.raises(InvalidStateTransition):
        await authorize_payment(AuthorizePayment(payment_id), checked.deps)


async def test_approval_authorizes_at_the_gateway(checked: FakePorts) -> None:
    payment_id = await held(checked)
    payment = await review_payment(review(payment_id, ReviewOutcome.APPROVED), checked.deps)
    assert payment.status is PaymentStatus.AUTHORIZED
    assert len(checked.gateway.calls_to("authorize")) == 1
    assert payment.risk.review is not None
    assert (
        payment.risk.review.outcome,
        payment.risk.review.reviewer,
        payment.risk.review.reason,
    ) == (
        ReviewOutcome.APPROVED,
        ADMIN,
        "checked",
    )
    assert (
        payment.risk.assessment is not None
        and payment.risk.assessment.decision is RiskDecision.REVIEW
    )
    assert stored(checked, payment_id) == payment
    assert checked.uow.event_types() == ["payment.requires_review", "payment.authorized"]


async def test_rejection_fails_the_payment_for_good(checked: FakePorts) -> None:
    payment_id = await held(checked)
    payment = await review_payment(
        review(payment_id, ReviewOutcome.REJECTED, "stolen card reported"), checked.deps
    )
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "FRAUD_SUSPECTED")
    assert payment.failure_reason == "rejected in review: stolen card reported"
    assert checked.gateway.calls == []
    assert checked.uow.event_types() == ["payment.requires_review", "payment.failed"]
    with pytest.raises(InvalidStateTransition, match="rejected in review"):
        await authorize_payment(AuthorizePayment(payment_id), checked.deps)
    assert checked.gateway.calls == []


async def test_only_a_held_payment_can_be_reviewed(checked: FakePorts) -> None:
    payment = await created(checked)
    for outcome in ReviewOutcome:
        with pytest.raises(PaymentNotUnderReview) as caught:
            await review_payment(review(payment.id, outcome), checked.deps)
        assert caught.value.kind is ErrorKind.FAILED_PRECONDITION
    payment_id = await held(checked, 2)
    await review_payment(review(payment_id, ReviewOutcome.APPROVED), checked.deps)
    with pytest.raises(PaymentNotUnderReview):  # decided already
        await review_payment(review(payment_id, ReviewOutcome.REJECTED), checked.deps)


async def test_a_review_needs_a_decision_and_a_reason(checked: FakePorts) -> None:
    payment_id = await held(checked)
    with pytest.raises(ValidationFailed) as caught:
        await review_payment(ReviewPayment(payment_id, None, "  ", ADMIN), checked.deps)
    assert sorted(v.field for v in caught.value.violations) == ["decision", "reason"]
    assert stored(checked, payment_id).status is PaymentStatus.UNDER_REVIEW


async def test_a_held_payment_can_be_cancelled(checked: FakePorts) -> None:
    payment_id = await held(checked)
    payment = await cancel_payment(CancelPayment(payment_id, reason="customer left"), checked.deps)
    assert payment.status is PaymentStatus.CANCELLED
    assert checked.gateway.calls == []


async def test_an_approved_payment_retried_later_is_not_checked_again(
    checked: FakePorts,
) -> None:
    """The gateway is down when the admin approves: the automatic retry authorizes it
    without a second check (the human decided), and without a second review."""
    scorer = FakeRiskScorer(70)  # would ask for a review every time
    checked.risk = RiskEngine(RiskPolicy(), scorer=scorer)
    checked.retry_policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=1))
    payment_id = await held(checked)
    checked.gateway.will("authorize", unavailable())
    with pytest.raises(GatewayUnavailable):
        await review_payment(review(payment_id, ReviewOutcome.APPROVED), checked.deps)
    pending = stored(checked, payment_id)
    assert pending.status is PaymentStatus.PENDING and pending.risk.approved
    checked.clock.advance(timedelta(seconds=5))
    assert await RetryWorker(checked.deps_for).run_once() == 1
    assert stored(checked, payment_id).status is PaymentStatus.AUTHORIZED
    assert len(scorer.subjects) == 1  # only the first check


async def test_a_retry_blocked_by_the_checks_ends_without_a_gateway_call(
    ports: FakePorts,
) -> None:
    ports.retry_policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=1))
    scorer = FakeRiskScorer(0)
    ports.risk = RiskEngine(RiskPolicy(), scorer=scorer)
    payment = await created(ports)
    ports.gateway.will("authorize", unavailable())
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    scorer.next_score = 99  # meanwhile the scorer learnt something
    ports.clock.advance(timedelta(seconds=5))
    assert await RetryWorker(ports.deps_for).run_once() == 1
    after = stored(ports, payment.id)
    assert (after.status, after.failure_code) == (PaymentStatus.FAILED, "FRAUD_SUSPECTED")
    assert len(ports.gateway.calls_to("authorize")) == 1  # only the unavailable attempt
    assert ports.uow.committed_retries() == []


# --- the order events consumer ----------------------------------------------------------------
def order_confirmed(total: str) -> dict[str, object]:
    return {
        "eventId": "evt-1",
        "orderId": order_id(9),
        "userId": user_id(1),
        "total": Decimal(total),
        "currency": "EUR",
    }


async def test_an_order_blocked_by_the_checks_is_consumed_with_payment_failed(
    checked: FakePorts,
) -> None:
    await add_payment_method(
        AddPaymentMethod(user_id(1), PaymentMethodType.CREDIT_CARD, "pm_card_visa"), checked.deps
    )
    payment = await handle_order_confirmed(order_confirmed("5000.01"), checked.deps, True)
    assert payment is not None
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "FRAUD_SUSPECTED")
    assert "evt-1" in checked.uow.db.consumed_events
    assert checked.gateway.calls_to("authorize") == []
    assert checked.uow.event_types() == ["payment.failed"]


async def test_an_order_held_for_review_waits_and_its_cancellation_cancels_it(
    checked: FakePorts,
) -> None:
    await add_payment_method(
        AddPaymentMethod(user_id(1), PaymentMethodType.CREDIT_CARD, "pm_card_visa"), checked.deps
    )
    payment = await handle_order_confirmed(order_confirmed("500.01"), checked.deps, True)
    assert payment is not None and payment.status is PaymentStatus.UNDER_REVIEW
    cancelled = await handle_order_cancelled(
        {"eventId": "evt-2", "orderId": order_id(9)}, checked.deps
    )
    assert cancelled is not None and cancelled.status is PaymentStatus.CANCELLED
    assert checked.gateway.calls_to("authorize") == []
