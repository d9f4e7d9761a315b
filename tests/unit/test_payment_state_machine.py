"""The Payment state machine, example by example. The tables below are the specification."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

import pytest

from domain.enums import NextActionType, PaymentStatus, RefundStatus, TransactionStatus
from domain.enums import TransactionType as T
from domain.errors import (
    AmountExceedsCapturable,
    AmountExceedsRefundable,
    ErrorKind,
    InvalidStateTransition,
    OperationInProgress,
    reason_of,
)
from domain.events import (
    PaymentAuthorized,
    PaymentCancelled,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequiresAction,
    PaymentSucceeded,
)
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus
from domain.money import Money
from domain.payment import Payment
from domain.payment_states import TRANSITIONS, can_transition
from domain.refund import Refund
from domain.risk import RiskAssessment, RiskDecision
from domain.transaction import Transaction
from tests.unit.fakes import AdvancingClock, SequentialIds, new_payment

S = PaymentStatus

OK = GatewayOutcome.succeeded("gw_ok")
DECLINED = GatewayOutcome.declined("CARD_DECLINED", "Your card was declined.", "gw_declined")
REQUIRES_ACTION = GatewayOutcome(
    OutcomeStatus.REQUIRES_ACTION,
    "gw_3ds",
    next_action=NextAction(NextActionType.REDIRECT_TO_URL, "https://3ds.example/c/1"),
)

# The whole table, so that a change to it is a deliberate, reviewed change to this file too.
EXPECTED_TRANSITIONS = {
    S.PENDING: {S.AUTHORIZED, S.REQUIRES_ACTION, S.UNDER_REVIEW, S.FAILED, S.CANCELLED},
    S.REQUIRES_ACTION: {S.AUTHORIZED, S.REQUIRES_ACTION, S.FAILED, S.CANCELLED},
    S.FAILED: {S.AUTHORIZED, S.REQUIRES_ACTION, S.UNDER_REVIEW, S.FAILED, S.CANCELLED},
    S.UNDER_REVIEW: {S.PENDING, S.FAILED, S.CANCELLED},
    S.AUTHORIZED: {S.CAPTURED, S.CANCELLED},
    S.CAPTURED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.PARTIALLY_REFUNDED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.REFUNDED: set(),
    S.CANCELLED: set(),
}

OPERATIONS = ("authorize", "capture", "cancel", "refund")
# Which operation may begin in which status (with nothing else in flight).
ALLOWED = {
    #                       authorize  capture  cancel  refund
    S.PENDING:             (True,      False,   True,   False),
    S.REQUIRES_ACTION:     (False,     False,   True,   False),
    S.FAILED:              (True,      False,   True,   False),
    S.UNDER_REVIEW:        (False,     False,   True,   False),
    S.AUTHORIZED:          (False,     True,    True,   False),
    S.CAPTURED:            (False,     False,   False,  True),
    S.PARTIALLY_REFUNDED:  (False,     False,   False,  True),
    S.REFUNDED:            (False,     False,   False,  False),
    S.CANCELLED:           (False,     False,   False,  False),
}  # fmt: skip


class Driver:
    """Runs both steps of each operation on one payment, with a ticking clock."""

    def __init__(self, payment: Payment | None = None) -> None:
        self.payment = payment if payment is not None else new_payment(10_000)
        self._ids = SequentialIds(1000)
        self._clock = AdvancingClock()

    def id(self) -> str:
        return self._ids.new_id()

    def now(self) -> datetime:
        return self._clock.now()

    def begin(self, operation: str, amount_minor: int | None = None) -> Transaction | None:
        p = self.payment
        if operation == "authorize":
            return p.begin_authorization(transaction_id=self.id(), now=self.now())
        if operation == "capture":
            return p.begin_capture(
                transaction_id=self.id(), now=self.now(), amount_minor=amount_minor
            )
        if operation == "cancel":
            return p.begin_cancellation(
                transaction_id=self.id(), now=self.now(), event_id=self.id(), reason="changed mind"
            )
        assert operation == "refund"
        return p.begin_refund(
            transaction_id=self.id(), refund_id=self.id(), now=self.now(), amount_minor=amount_minor
        )

    def record(self, txn: Transaction, outcome: GatewayOutcome) -> None:
        record = {
            T.AUTHORIZATION: self.payment.record_authorization,
            T.CAPTURE: self.payment.record_capture,
            T.VOID: self.payment.record_void,
            T.REFUND: self.payment.record_refund,
        }[txn.type]
        record(txn.id, outcome, self.now(), self.id())

    def run(
        self, operation: str, outcome: GatewayOutcome = OK, amount_minor: int | None = None
    ) -> Transaction | None:
        txn = self.begin(operation, amount_minor)
        if txn is not None:
            self.record(txn, outcome)
        return txn

    def status(self) -> PaymentStatus:
        """The status now (a call, so that type checkers do not keep an earlier narrowing)."""
        return self.payment.status

    def event_types(self) -> list[str]:
        return [event.event_type for event in self.payment.pull_events()]


def _build(steps: list[tuple[str, GatewayOutcome, int | None]]) -> Callable[[], Driver]:
    def build() -> Driver:
        driver = Driver()
        for operation, outcome, amount in steps:
            driver.run(operation, outcome, amount)
        driver.payment.pull_events()
        return driver

    return build


def _held_for_review(driver: Driver) -> Driver:
    verdict = RiskAssessment(RiskDecision.REVIEW, ("AMOUNT_OVER_REVIEW_LIMIT",), driver.now())
    driver.payment.hold_for_review(verdict, driver.now(), driver.id())
    driver.payment.pull_events()
    return driver


# One way (two for CANCELLED) to reach each status through the aggregate's own methods.
REACH: dict[str, tuple[PaymentStatus, Callable[[], Driver]]] = {
    "pending": (S.PENDING, _build([])),
    "requires_action": (S.REQUIRES_ACTION, _build([("authorize", REQUIRES_ACTION, None)])),
    "failed": (S.FAILED, _build([("authorize", DECLINED, None)])),
    "authorized": (S.AUTHORIZED, _build([("authorize", OK, None)])),
    "captured": (S.CAPTURED, _build([("authorize", OK, None), ("capture", OK, None)])),
    "partially_refunded": (
        S.PARTIALLY_REFUNDED,
        _build([("authorize", OK, None), ("capture", OK, None), ("refund", OK, 3000)]),
    ),
    "refunded": (
        S.REFUNDED,
        _build([("authorize", OK, None), ("capture", OK, None), ("refund", OK, None)]),
    ),
    "under_review": (S.UNDER_REVIEW, lambda: _held_for_review(_build([])())),
    "cancelled_at_once": (S.CANCELLED, _build([("cancel", OK, None)])),
    "cancelled_by_void": (S.CANCELLED, _build([("authorize", OK, None), ("cancel", OK, None)])),
}


# --- the table -------------------------------------------------------------------------------
def test_transition_table_is_the_documented_one() -> None:
    assert {status: set(targets) for status, targets in TRANSITIONS.items()} == (
        EXPECTED_TRANSITIONS
    )
    assert set(TRANSITIONS) == set(PaymentStatus)
    assert set(ALLOWED) == set(PaymentStatus)


def test_only_refunded_and_cancelled_are_terminal() -> None:
    terminal = {status for status, targets in TRANSITIONS.items() if not targets}
    assert terminal == {S.REFUNDED, S.CANCELLED}
    assert not can_transition(S.REFUNDED, S.PARTIALLY_REFUNDED)
    assert not can_transition(S.CANCELLED, S.AUTHORIZED)
    assert not can_transition(S.CAPTURED, S.CANCELLED)  # money taken is refunded, not voided


@pytest.mark.parametrize("label", REACH)
def test_each_status_is_reachable(label: str) -> None:
    status, build = REACH[label]
    assert build().payment.status is status


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("label", REACH)
def test_operation_allowed_or_rejected(label: str, operation: str) -> None:
    status, build = REACH[label]
    driver = build()
    allowed = ALLOWED[status][OPERATIONS.index(operation)]
    before = copy.deepcopy(driver.payment)
    if allowed:
        txn = driver.begin(operation)
        if txn is not None:
            assert txn.status is TransactionStatus.PENDING
            assert driver.payment.open_operations == [txn]
        else:  # a cancellation with nothing held at the gateway happens at once
            assert (operation, driver.payment.status) == ("cancel", S.CANCELLED)
        return
    with pytest.raises(InvalidStateTransition) as caught:
        driver.begin(operation)
    error = caught.value
    assert reason_of(error) == "INVALID_STATE_TRANSITION"
    assert error.kind is ErrorKind.FAILED_PRECONDITION
    assert error.metadata == {
        "payment_id": driver.payment.id,
        "status": status.value,
        "operation": operation,
    }
    assert driver.payment == before  # a refused operation changes nothing


@pytest.mark.parametrize(
    ("label", "operation", "outcome", "reached"),
    [
        ("pending", "authorize", OK, S.AUTHORIZED),
        ("pending", "authorize", DECLINED, S.FAILED),
        ("pending", "authorize", REQUIRES_ACTION, S.REQUIRES_ACTION),
        ("failed", "authorize", OK, S.AUTHORIZED),
        ("failed", "authorize", DECLINED, S.FAILED),
        ("failed", "authorize", REQUIRES_ACTION, S.REQUIRES_ACTION),
        ("pending", "cancel", OK, S.CANCELLED),
        ("failed", "cancel", OK, S.CANCELLED),
        ("requires_action", "cancel", OK, S.CANCELLED),
        ("under_review", "cancel", OK, S.CANCELLED),
        ("authorized", "cancel", OK, S.CANCELLED),
        ("authorized", "capture", OK, S.CAPTURED),
        ("captured", "refund", OK, S.REFUNDED),
        ("partially_refunded", "refund", OK, S.REFUNDED),
    ],
)
def test_every_successful_operation_follows_the_table(
    label: str, operation: str, outcome: GatewayOutcome, reached: PaymentStatus
) -> None:
    start, build = REACH[label]
    driver = build()
    driver.run(operation, outcome)
    assert driver.payment.status is reached
    assert can_transition(start, reached)


# --- capture ---------------------------------------------------------------------------------
def test_partial_capture() -> None:
    driver = REACH["authorized"][1]()
    txn = driver.run("capture", amount_minor=6000)
    p = driver.payment
    assert txn is not None and txn.amount == Money(6000, "EUR")
    assert (p.status, p.amounts.authorized.amount_minor, p.amounts.captured.amount_minor) == (
        S.CAPTURED,
        10_000,
        6000,
    )
    assert p.refundable.amount_minor == 6000
    assert driver.event_types() == ["payment.successful"]


@pytest.mark.parametrize("amount", [10_001, 10**12])
def test_capture_beyond_the_authorization_is_refused(amount: int) -> None:
    driver = REACH["authorized"][1]()
    before = copy.deepcopy(driver.payment)
    with pytest.raises(AmountExceedsCapturable) as caught:
        driver.begin("capture", amount)
    assert caught.value.reason == "AMOUNT_EXCEEDS_CAPTURABLE"
    assert caught.value.metadata["capturable_amount_minor"] == "10000"
    assert driver.payment == before


@pytest.mark.parametrize("amount", [0, -1])
def test_capture_of_nothing_is_refused(amount: int) -> None:
    driver = REACH["authorized"][1]()
    before = copy.deepcopy(driver.payment)
    with pytest.raises(AmountExceedsCapturable):
        driver.begin("capture", amount)
    assert driver.payment == before


def test_declined_capture_keeps_the_authorization() -> None:
    driver = REACH["authorized"][1]()
    txn = driver.run("capture", GatewayOutcome.declined("EXPIRED_AUTHORIZATION", "too late"))
    assert txn is not None
    assert (txn.status, txn.failure_code) == (TransactionStatus.FAILED, "EXPIRED_AUTHORIZATION")
    assert driver.payment.status is S.AUTHORIZED
    assert driver.payment.amounts.captured.amount_minor == 0
    assert driver.event_types() == []
    driver.run("capture")
    assert driver.status() is S.CAPTURED


# --- refunds ---------------------------------------------------------------------------------
def test_several_partial_refunds_up_to_the_captured_amount() -> None:
    driver = REACH["authorized"][1]()
    driver.run("capture", amount_minor=9000)
    driver.payment.pull_events()
    for amount, refunded in [(2500, 2500), (2500, 5000), (3000, 8000)]:
        driver.run("refund", amount_minor=amount)
        assert driver.payment.status is S.PARTIALLY_REFUNDED
        assert driver.payment.amounts.refunded.amount_minor == refunded
        assert driver.payment.times.refunded_at is None
    with pytest.raises(AmountExceedsRefundable) as caught:
        driver.begin("refund", 1001)
    assert caught.value.metadata["refundable_amount_minor"] == "1000"
    driver.run("refund")  # the rest
    p = driver.payment
    assert (p.status, p.amounts.refunded.amount_minor, p.amounts.captured.amount_minor) == (
        S.REFUNDED,
        9000,
        9000,
    )
    assert p.times.refunded_at is not None
    assert driver.event_types() == ["payment.refunded"] * 4
    with pytest.raises(InvalidStateTransition):
        driver.begin("refund", 1)


@pytest.mark.parametrize("amount", [0, -5, 10_001])
def test_refund_amount_must_be_positive_and_refundable(amount: int) -> None:
    driver = REACH["captured"][1]()
    before = copy.deepcopy(driver.payment)
    with pytest.raises(AmountExceedsRefundable) as caught:
        driver.begin("refund", amount)
    assert caught.value.reason == "AMOUNT_EXCEEDS_REFUNDABLE"
    assert driver.payment == before


def test_open_refunds_reserve_their_amount() -> None:
    driver = REACH["captured"][1]()
    first = driver.begin("refund", 6000)
    assert driver.payment.refundable.amount_minor == 4000
    with pytest.raises(AmountExceedsRefundable) as caught:
        driver.begin("refund", 5000)
    assert caught.value.metadata["refundable_amount_minor"] == "4000"
    second = driver.begin("refund", 4000)  # refunds may run side by side
    assert first is not None and second is not None
    assert driver.payment.refundable.amount_minor == 0
    driver.record(second, OK)  # answers may come back in any order
    assert driver.payment.status is S.PARTIALLY_REFUNDED
    driver.record(first, OK)
    assert driver.status() is S.REFUNDED
    assert driver.payment.amounts.refunded.amount_minor == 10_000


def test_a_declined_refund_releases_its_reservation_and_an_unknown_one_keeps_it() -> None:
    driver = REACH["captured"][1]()
    declined = driver.begin("refund", 6000)
    assert declined is not None
    driver.record(declined, GatewayOutcome.declined("REFUND_FAILED", "no"))
    assert (driver.payment.status, driver.payment.refundable.amount_minor) == (S.CAPTURED, 10_000)
    unknown = driver.begin("refund", 6000)
    assert unknown is not None
    driver.payment.mark_outcome_unknown(unknown.id, driver.now(), "timeout")
    assert unknown.status is TransactionStatus.UNKNOWN
    assert driver.payment.refundable.amount_minor == 4000  # it may have been paid out
    with pytest.raises(AmountExceedsRefundable):
        driver.begin("refund", 4001)


# --- operations in flight --------------------------------------------------------------------
@pytest.mark.parametrize("unknown", [False, True], ids=["pending", "unknown"])
@pytest.mark.parametrize(
    ("label", "in_flight", "blocked"),
    [
        ("pending", "authorize", ["authorize", "cancel"]),
        ("failed", "authorize", ["authorize", "cancel"]),
        ("authorized", "capture", ["capture", "cancel"]),
        ("authorized", "cancel", ["capture", "cancel"]),
    ],
)
def test_an_open_operation_blocks_conflicting_ones(
    label: str, in_flight: str, blocked: list[str], unknown: bool
) -> None:
    driver = REACH[label][1]()
    txn = driver.begin(in_flight)
    assert txn is not None
    if unknown:
        driver.payment.mark_outcome_unknown(txn.id, driver.now(), "read timeout")
    before = copy.deepcopy(driver.payment)
    for operation in blocked:
        with pytest.raises(OperationInProgress) as caught:
            driver.begin(operation)
        error = caught.value
        assert (error.reason, error.kind, error.retryable) == (
            "OPERATION_IN_PROGRESS",
            ErrorKind.ABORTED,
            True,
        )
        assert error.metadata["transaction_id"] == txn.id
        assert error.metadata["transaction_status"] == ("UNKNOWN" if unknown else "PENDING")
    assert driver.payment == before


def test_an_unknown_outcome_can_be_settled_later() -> None:
    driver = Driver()
    txn = driver.begin("authorize")
    assert txn is not None
    driver.payment.mark_outcome_unknown(txn.id, driver.now(), "timeout")
    assert (txn.status, txn.completed_at, txn.failure_code) == (
        TransactionStatus.UNKNOWN,
        None,
        "GATEWAY_OUTCOME_UNKNOWN",
    )
    assert driver.payment.status is S.PENDING
    driver.record(txn, OK)  # the reconciler learnt the answer
    assert driver.status() is S.AUTHORIZED
    assert txn.completed_at is not None


def test_an_abandoned_operation_changes_nothing_but_its_transaction() -> None:
    driver = REACH["authorized"][1]()
    txn = driver.begin("capture")
    assert txn is not None
    driver.payment.abandon_operation(txn.id, driver.now(), "GATEWAY_UNAVAILABLE", "down")
    assert (txn.status, txn.failure_code) == (TransactionStatus.FAILED, "GATEWAY_UNAVAILABLE")
    assert driver.payment.status is S.AUTHORIZED
    assert driver.payment.open_operations == []
    assert driver.event_types() == []


def test_an_answer_is_applied_once_and_to_its_own_kind_of_operation() -> None:
    driver = Driver()
    txn = driver.begin("authorize")
    assert txn is not None
    with pytest.raises(InvalidStateTransition):
        driver.payment.record_capture(txn.id, OK, driver.now(), driver.id())
    driver.record(txn, OK)
    with pytest.raises(InvalidStateTransition):
        driver.record(txn, OK)
    with pytest.raises(KeyError):
        driver.payment.record_authorization("no-such-transaction", OK, driver.now(), driver.id())


# --- authorization retries -------------------------------------------------------------------
def test_retry_after_decline_counts_and_may_swap_the_token() -> None:
    driver = Driver()
    p = driver.payment
    driver.run("authorize", DECLINED)
    assert (p.status, p.failure_code, p.retry_count) == (S.FAILED, "CARD_DECLINED", 0)
    assert p.times.failed_at is not None

    txn = p.begin_authorization(
        transaction_id=driver.id(),
        now=driver.now(),
        payment_method_id="22222222-2222-4222-8222-222222222222",
        payment_method_token="pm_card_mastercard",
    )
    assert p.retry_count == 1
    assert p.payment_method_token == "pm_card_mastercard"
    assert p.payment_method_id == "22222222-2222-4222-8222-222222222222"
    driver.record(txn, GatewayOutcome.declined("INSUFFICIENT_FUNDS", "not enough"))

    txn = p.begin_authorization(transaction_id=driver.id(), now=driver.now())
    assert p.retry_count == 2
    assert p.payment_method_token == "pm_card_mastercard"  # kept when none is given
    driver.record(txn, OK)
    assert (p.status, p.failure_code, p.failure_reason) == (S.AUTHORIZED, None, None)

    events = p.pull_events()
    failures = [e for e in events if isinstance(e, PaymentFailed)]
    assert [(e.failure_code, e.retry_attempt) for e in failures] == [
        ("CARD_DECLINED", 0),
        ("INSUFFICIENT_FUNDS", 1),
    ]
    assert [e.event_type for e in events] == [
        "payment.failed",
        "payment.failed",
        "payment.authorized",
    ]


def test_a_retry_that_needs_authentication_clears_the_old_decline() -> None:
    driver = Driver()
    p = driver.payment
    driver.run("authorize", DECLINED)
    txn = p.begin_authorization(transaction_id=driver.id(), now=driver.now())
    driver.record(txn, REQUIRES_ACTION)
    assert (p.status, p.failure_code, p.failure_reason) == (S.REQUIRES_ACTION, None, None)
    assert p.next_action is not None


def test_a_decline_without_a_code_is_card_declined() -> None:
    driver = Driver()
    driver.run("authorize", GatewayOutcome(OutcomeStatus.DECLINED))
    assert driver.payment.failure_code == "CARD_DECLINED"
    assert driver.payment.failure_reason


# --- cancellation ----------------------------------------------------------------------------
def test_cancelling_an_authorization_voids_it_at_the_gateway() -> None:
    driver = REACH["authorized"][1]()
    txn = driver.begin("cancel")
    assert txn is not None and txn.type is T.VOID
    assert txn.amount == Money(10_000, "EUR")
    assert driver.payment.status is S.AUTHORIZED  # until the gateway confirms
    driver.record(txn, GatewayOutcome.declined("VOID_FAILED", "no"))
    assert driver.payment.status is S.AUTHORIZED
    assert driver.event_types() == []
    driver.run("cancel")
    p = driver.payment
    assert (p.status, p.cancellation_reason) == (S.CANCELLED, "changed mind")
    assert p.times.cancelled_at is not None
    [event] = p.pull_events()
    assert isinstance(event, PaymentCancelled) and event.reason == "changed mind"


def test_cancelling_a_requires_action_payment_voids_the_whole_amount() -> None:
    driver = REACH["requires_action"][1]()
    assert driver.payment.next_action is not None
    txn = driver.begin("cancel")
    assert txn is not None and txn.type is T.VOID
    assert txn.amount == Money(10_000, "EUR")
    driver.record(txn, OK)
    assert driver.status() is S.CANCELLED
    assert driver.payment.next_action is None


@pytest.mark.parametrize("label", ["pending", "failed"])
def test_cancelling_with_nothing_held_at_the_gateway_is_immediate(label: str) -> None:
    driver = REACH[label][1]()
    assert driver.begin("cancel") is None
    assert driver.payment.status is S.CANCELLED
    assert driver.payment.open_operations == []
    assert driver.event_types() == ["payment.cancelled"]


# --- events ----------------------------------------------------------------------------------
def test_events_of_a_full_lifecycle() -> None:
    driver = Driver()
    p = driver.payment
    driver.run("authorize", REQUIRES_ACTION)
    [action] = p.pull_events()
    assert isinstance(action, PaymentRequiresAction)
    assert (action.event_type, action.next_action_url) == (
        "payment.requires_action",
        "https://3ds.example/c/1",
    )

    driver = Driver()
    p = driver.payment
    auth = driver.run("authorize")
    capture = driver.run("capture", amount_minor=8000)
    refund = driver.run("refund", amount_minor=3000)
    assert auth is not None and capture is not None and refund is not None
    events = p.pull_events()
    assert [e.event_type for e in events] == [
        "payment.authorized",
        "payment.successful",
        "payment.refunded",
    ]
    authorized, succeeded, refunded = events
    assert isinstance(authorized, PaymentAuthorized)
    assert (authorized.amount, authorized.transaction_id) == (Money(10_000, "EUR"), auth.id)
    assert isinstance(succeeded, PaymentSucceeded)
    assert (succeeded.amount, succeeded.transaction_id) == (Money(8000, "EUR"), capture.id)
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount, refunded.refund_id) == (Money(3000, "EUR"), refund.refund_id)
    assert all((e.payment_id, e.order_id) == (p.id, p.order_id) for e in events)
    assert len({e.event_id for e in events}) == 3
    assert p.pull_events() == []  # pulled once


# --- transactions and refunds ----------------------------------------------------------------
def test_a_transaction_carries_its_gateway_idempotency_key() -> None:
    driver = Driver()
    txn = driver.run("authorize")
    assert txn is not None
    assert txn.idempotency_key == f"payments-{txn.id}"
    assert (txn.status, txn.gateway_transaction_id) == (TransactionStatus.SUCCEEDED, "gw_ok")
    assert driver.payment.gateway_payment_id == "gw_ok"
    assert txn.completed_at is not None and txn.completed_at >= txn.created_at


def _refund() -> Refund:
    driver = Driver()
    return Refund(
        id="r1",
        payment_id="p1",
        transaction_id="t1",
        amount=Money(100, "EUR"),
        reason="",
        requested_by="",
        requested_at=driver.now(),
        created_at=driver.now(),
    )


def test_refund_record_moves_once_from_pending() -> None:
    processed = _refund()
    processed.mark_processed("re_1", processed.created_at)
    assert (processed.status, processed.gateway_refund_id) == (RefundStatus.PROCESSED, "re_1")
    failed = _refund()
    failed.mark_failed("REFUND_FAILED", "no", failed.created_at)
    assert (failed.status, failed.failure_code) == (RefundStatus.FAILED, "REFUND_FAILED")
    for refund in (processed, failed):
        with pytest.raises(InvalidStateTransition):
            refund.mark_processed("re_2", refund.created_at)
        with pytest.raises(InvalidStateTransition):
            refund.mark_failed("X", "", refund.created_at)
