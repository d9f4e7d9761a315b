"""Random lifecycles of one Payment, checked against a model after every step.

Begins and gateway answers are separate rules, so operations stay open across steps, refunds
overlap, answers arrive in any order, and outcomes may be unknown before they are settled.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.enums import NextActionType, PaymentStatus, TransactionStatus
from domain.enums import TransactionType as T
from domain.errors import (
    AmountExceedsCapturable,
    AmountExceedsRefundable,
    DomainError,
    InvalidStateTransition,
    OperationInProgress,
)
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus
from domain.payment import Payment
from domain.payment_states import TRANSITIONS
from domain.transaction import Transaction
from tests.unit.fakes import AdvancingClock, SequentialIds, new_payment

S = PaymentStatus
TERMINAL = frozenset({S.REFUNDED, S.CANCELLED})
ANSWERS = ("success", "decline", "requires_action", "unknown", "unavailable")
# What happens right after a begin: usually an answer, sometimes nothing yet ("later": the
# operation stays open for `gateway_answers`). Success is weighted up to reach deep states.
FOLLOW_UPS = st.sampled_from(("success", "success", "later", *ANSWERS))
# Capture and refund amounts as a percentage of what is left (None: all of it); at or below
# zero and beyond 100% they must be refused.
shares = (
    st.none() | st.integers(min_value=-1, max_value=110) | st.integers(min_value=1, max_value=99)
)


def share_of(total: int, share: int | None) -> int | None:
    return None if share is None else total * share // 100 + (1 if share > 100 else 0)


def snapshot(payment: Payment) -> tuple[object, ...]:
    """Everything a Payment holds, copied as deep as it is mutable (deepcopy is 10x slower)."""
    return (
        *(getattr(payment, f.name) for f in fields(payment)),
        [copy.copy(t) for t in payment.transactions],
        list(payment.events),
        dict(payment.metadata),
    )


class PaymentLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ids = SequentialIds(10_000)
        self.clock = AdvancingClock()
        self.payment: Payment = new_payment()
        self.previous_status = S.PENDING

    def now(self) -> datetime:
        return self.clock.now()

    @initialize(amount=st.integers(1, 10_000), currency=st.sampled_from(["EUR", "JPY", "KWD"]))
    def create(self, amount: int, currency: str) -> None:
        self.payment = new_payment(amount, currency)

    # --- the model: what may begin, computed from the transactions, not from the aggregate --
    def _succeeded(self, kind: T) -> list[Transaction]:
        return [
            t
            for t in self.payment.transactions
            if t.type is kind and t.status is TransactionStatus.SUCCEEDED
        ]

    def _open(self, *, refunds: bool) -> list[Transaction]:
        return [t for t in self.payment.open_operations if (t.type is T.REFUND) == refunds]

    def _model_refundable(self) -> int:
        captured = sum(t.amount.amount_minor for t in self._succeeded(T.CAPTURE))
        refunded = sum(t.amount.amount_minor for t in self._succeeded(T.REFUND))
        reserved = sum(t.amount.amount_minor for t in self._open(refunds=True))
        return captured - refunded - reserved

    def _attempt(
        self,
        begin: Callable[[], object],
        expected_ok: bool,
        allowed: frozenset[PaymentStatus],
        amount_error: type[DomainError] | None = None,
        follow_up: str = "later",
    ) -> None:
        """Run a begin_* and check it succeeds exactly when the model says so, and that a
        refusal is the right error and changes nothing."""
        before = snapshot(self.payment)
        try:
            result = begin()
        except DomainError as error:
            assert not expected_ok, f"refused unexpectedly: {error!r}"
            refusal = self._expected_refusal(allowed, amount_error)
            assert isinstance(error, refusal), f"expected {refusal.__name__}, got {error!r}"
            assert snapshot(self.payment) == before, "a refused operation changed the payment"
            return
        assert expected_ok, "the aggregate allowed an operation the model forbids"
        if isinstance(result, Transaction):
            assert result.status is TransactionStatus.PENDING
            if follow_up != "later":
                self._answer(result, follow_up)

    def _expected_refusal(
        self, allowed: frozenset[PaymentStatus], amount_error: type[DomainError] | None = None
    ) -> type[DomainError]:
        if self.payment.status not in allowed:
            return InvalidStateTransition
        blocking = self.payment.open_operations
        if allowed & {S.CAPTURED, S.PARTIALLY_REFUNDED}:
            blocking = self._open(refunds=False)
        if blocking:
            return OperationInProgress
        assert amount_error is not None
        return amount_error

    # --- operations: begin, then maybe the gateway's answer at once ---------------------
    @rule(
        token=st.none() | st.sampled_from(["pm_card_visa", "pm_card_mastercard"]),
        then=FOLLOW_UPS,
    )
    def authorize(self, token: str | None, then: str) -> None:
        allowed = frozenset({S.PENDING, S.FAILED})
        ok = self.payment.status in allowed and not self.payment.open_operations
        retries = self.payment.retry_count
        had_attempt = any(t.type is T.AUTHORIZATION for t in self.payment.transactions)
        self._attempt(
            lambda: self.payment.begin_authorization(
                transaction_id=self.ids.new_id(), now=self.now(), payment_method_token=token
            ),
            ok,
            allowed,
            follow_up=then,
        )
        if ok:
            assert self.payment.retry_count == retries + (1 if had_attempt else 0)
            if token:
                assert self.payment.payment_method_token == token

    @rule(share=shares, then=FOLLOW_UPS)
    def capture(self, share: int | None, then: str) -> None:
        allowed = frozenset({S.AUTHORIZED})
        authorized = sum(t.amount.amount_minor for t in self._succeeded(T.AUTHORIZATION))
        amount = share_of(authorized, share)
        wanted = authorized if amount is None else amount
        ok = (
            self.payment.status in allowed
            and not self.payment.open_operations
            and 0 < wanted <= authorized
        )
        self._attempt(
            lambda: self.payment.begin_capture(
                transaction_id=self.ids.new_id(), now=self.now(), amount_minor=amount
            ),
            ok,
            allowed,
            AmountExceedsCapturable,
            follow_up=then,
        )

    # Cancelling ends most lifecycles, so it is tried on one draw in four only.
    @rule(reason=st.sampled_from(["", "customer asked"]), then=FOLLOW_UPS, skip=st.integers(0, 3))
    def cancel(self, reason: str, then: str, skip: int) -> None:
        if skip:
            return
        allowed = frozenset({S.PENDING, S.FAILED, S.AUTHORIZED, S.REQUIRES_ACTION})
        ok = self.payment.status in allowed and not self.payment.open_operations
        events_before = len(self.payment.events)
        self._attempt(
            lambda: self.payment.begin_cancellation(
                transaction_id=self.ids.new_id(),
                now=self.now(),
                event_id=self.ids.new_id(),
                reason=reason,
            ),
            ok,
            allowed,
            follow_up=then,
        )
        if ok and self.payment.status is S.CANCELLED:  # nothing held: cancelled at once
            assert [e.event_type for e in self.payment.events[events_before:]] == [
                "payment.cancelled"
            ]

    @rule(share=shares, then=FOLLOW_UPS)
    def refund(self, share: int | None, then: str) -> None:
        allowed = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED})
        refundable = self._model_refundable()
        amount = share_of(refundable, share)
        wanted = refundable if amount is None else amount
        ok = (
            self.payment.status in allowed
            and not self._open(refunds=False)
            and 0 < wanted <= refundable
        )
        self._attempt(
            lambda: self.payment.begin_refund(
                transaction_id=self.ids.new_id(),
                refund_id=self.ids.new_id(),
                now=self.now(),
                amount_minor=amount,
            ),
            ok,
            allowed,
            AmountExceedsRefundable,
            follow_up=then,
        )

    # Random operations mostly fail to begin; this one takes the next step of the happy path
    # (with a random amount and answer) so that runs also reach refunds, and overlap them.
    @rule(share=shares, then=FOLLOW_UPS)
    def advance(self, share: int | None, then: str) -> None:
        status = self.payment.status
        if status in (S.PENDING, S.FAILED):
            self.authorize(None, then)
        elif status is S.AUTHORIZED:
            self.capture(share, then)
        elif status in (S.CAPTURED, S.PARTIALLY_REFUNDED):
            self.refund(share, then)

    # --- the gateway answers an open operation -----------------------------------------------
    @precondition(lambda self: self.payment.open_operations)
    @rule(data=st.data(), answer=st.sampled_from(ANSWERS))
    def gateway_answers(self, data: st.DataObject, answer: str) -> None:
        txn = data.draw(st.sampled_from(self.payment.open_operations), label="operation")
        self._answer(txn, answer)

    def _answer(self, txn: Transaction, answer: str) -> None:
        p = self.payment
        status, refunded = p.status, p.amounts.refunded.amount_minor
        events_before = len(p.events)
        now, event_id = self.now(), self.ids.new_id()

        if answer == "unknown":
            p.mark_outcome_unknown(txn.id, now, "read timeout")
            assert txn.status is TransactionStatus.UNKNOWN and txn.is_open
        elif answer == "unavailable":
            p.abandon_operation(txn.id, now, "GATEWAY_UNAVAILABLE", "connection refused")
            assert txn.status is TransactionStatus.FAILED
        else:
            outcome = {
                "success": GatewayOutcome.succeeded(f"gw_{txn.id}"),
                "decline": GatewayOutcome.declined("CARD_DECLINED", "declined"),
                "requires_action": GatewayOutcome(
                    OutcomeStatus.REQUIRES_ACTION,
                    f"gw_{txn.id}",
                    next_action=NextAction(NextActionType.REDIRECT_TO_URL, "https://3ds/x"),
                ),
            }[answer]
            record = {
                T.AUTHORIZATION: p.record_authorization,
                T.CAPTURE: p.record_capture,
                T.VOID: p.record_void,
                T.REFUND: p.record_refund,
            }[txn.type]
            record(txn.id, outcome, now, event_id)
            assert not txn.is_open

        expected_status, expected_events = self._expected_after(txn, answer, status, refunded)
        assert p.status is expected_status, (txn.type, answer, status, p.status)
        assert [e.event_type for e in p.events[events_before:]] == expected_events

    def _expected_after(
        self, txn: Transaction, answer: str, status: PaymentStatus, refunded_before: int
    ) -> tuple[PaymentStatus, list[str]]:
        if answer in ("unknown", "unavailable"):
            return status, []
        if txn.type is T.AUTHORIZATION:
            return {
                "success": (S.AUTHORIZED, ["payment.authorized"]),
                "decline": (S.FAILED, ["payment.failed"]),
                "requires_action": (S.REQUIRES_ACTION, ["payment.requires_action"]),
            }[answer]
        if answer != "success":  # capture, void and refund know no REQUIRES_ACTION: a failure
            return status, []
        if txn.type is T.CAPTURE:
            return S.CAPTURED, ["payment.successful"]
        if txn.type is T.VOID:
            return S.CANCELLED, ["payment.cancelled"]
        full = (
            refunded_before + txn.amount.amount_minor == self.payment.amounts.captured.amount_minor
        )
        return (S.REFUNDED if full else S.PARTIALLY_REFUNDED), ["payment.refunded"]

    # --- invariants, after every step --------------------------------------------------------
    @invariant()
    def amounts_are_ordered(self) -> None:
        p = self.payment
        assert (
            0
            <= p.amounts.refunded.amount_minor
            <= p.amounts.captured.amount_minor
            <= p.amounts.authorized.amount_minor
        )
        assert p.amounts.authorized.amount_minor <= p.amount.amount_minor
        # Open refunds, PENDING or UNKNOWN, may all still pay out: together they fit.
        assert p.refundable.amount_minor == self._model_refundable() >= 0

    @invariant()
    def amounts_are_the_sum_of_succeeded_operations(self) -> None:
        p = self.payment
        authorizations = self._succeeded(T.AUTHORIZATION)
        captures = self._succeeded(T.CAPTURE)
        assert len(authorizations) <= 1 and len(captures) <= 1
        assert p.amounts.authorized.amount_minor == (p.amount.amount_minor if authorizations else 0)
        assert p.amounts.captured.amount_minor == sum(t.amount.amount_minor for t in captures)
        assert p.amounts.refunded.amount_minor == sum(
            t.amount.amount_minor for t in self._succeeded(T.REFUND)
        )

    @invariant()
    def status_agrees_with_amounts(self) -> None:
        p = self.payment
        authorized, captured, refunded = (
            p.amounts.authorized.amount_minor,
            p.amounts.captured.amount_minor,
            p.amounts.refunded.amount_minor,
        )
        if p.status in (S.PENDING, S.REQUIRES_ACTION, S.FAILED):
            assert authorized == captured == refunded == 0
        elif p.status is S.AUTHORIZED:
            assert authorized == p.amount.amount_minor and captured == 0
        elif p.status is S.CAPTURED:
            assert captured > 0 and refunded == 0
        elif p.status is S.PARTIALLY_REFUNDED:
            assert 0 < refunded < captured
        elif p.status is S.REFUNDED:
            assert refunded == captured > 0
        else:
            assert p.status is S.CANCELLED and captured == 0
        assert (p.status is S.REFUNDED) == (refunded == captured > 0)
        if p.status is S.FAILED:
            assert p.failure_code is not None and p.times.failed_at is not None
        assert (p.status is S.REQUIRES_ACTION) == (p.next_action is not None)

    @invariant()
    def status_changes_follow_the_table(self) -> None:
        current = self.payment.status
        if current is not self.previous_status:
            assert current in TRANSITIONS[self.previous_status], (self.previous_status, current)
            if current in TERMINAL:
                self._check_no_way_out()
        self.previous_status = current

    @invariant()
    def open_operations_never_conflict(self) -> None:
        others, refunds = self._open(refunds=False), self._open(refunds=True)
        assert len(others) <= 1
        assert not (others and refunds)
        if refunds:
            assert self.payment.status in (S.CAPTURED, S.PARTIALLY_REFUNDED)

    @invariant()
    def settled_operations_are_complete(self) -> None:
        keys = [t.idempotency_key for t in self.payment.transactions]
        assert len(keys) == len(set(keys))
        for txn in self.payment.transactions:
            assert (txn.completed_at is None) == txn.is_open

    def _check_no_way_out(self) -> None:
        assert not TRANSITIONS[self.payment.status]
        begins: list[Callable[[Payment], object]] = [
            lambda p: p.begin_authorization(transaction_id="x", now=self.now()),
            lambda p: p.begin_capture(transaction_id="x", now=self.now()),
            lambda p: p.begin_cancellation(transaction_id="x", now=self.now(), event_id="e"),
            lambda p: p.begin_refund(transaction_id="x", refund_id="r", now=self.now()),
        ]
        for begin in begins:
            probe = copy.deepcopy(self.payment)
            try:
                begin(probe)
            except InvalidStateTransition:
                pass
            else:
                raise AssertionError(f"a {probe.status} payment accepted an operation")


PaymentLifecycle.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None
)
TestPaymentLifecycle = PaymentLifecycle.TestCase
