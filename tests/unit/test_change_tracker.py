"""The unit of work's change tracker: what a transaction writes becomes its outbox events and
its audit entries, and nothing else does."""

from __future__ import annotations

import copy

from domain.actor import Actor, ActorKind
from domain.changes import ChangeTracker
from domain.events import PaymentFailed
from domain.gateway import GatewayOutcome
from domain.payment import Payment
from tests.unit.fakes import START, new_payment

CALLER = Actor(ActorKind.SERVICE, "checkout", request_id="req-1", origin="ipv4:10.0.0.1:5")


def authorized(tracker: ChangeTracker, payment: Payment) -> None:
    txn = payment.begin_authorization(transaction_id="t-1", now=START)
    payment.record_authorization(txn.id, GatewayOutcome.succeeded("ch_1"), START, "e-1")
    tracker.saved(payment)
    tracker.describe(payment, "payment.authorize", transaction=payment.transaction(txn.id))


def test_a_saved_change_is_one_entry_with_the_changed_fields_and_its_events() -> None:
    tracker = ChangeTracker(CALLER, lambda: START)
    payment = new_payment()
    tracker.loaded(payment)
    authorized(tracker, payment)
    events, [entry] = tracker.collect()
    assert [e.event_type for e in events] == ["payment.authorized"]
    assert (entry.action, entry.outcome, entry.resource_id) == (
        "payment.authorize",
        "success",
        payment.id,
    )
    assert (entry.actor_kind, entry.actor_subject, entry.request_id) == (
        "service",
        "checkout",
        "req-1",
    )
    assert entry.before is not None and entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("PENDING", "AUTHORIZED")
    assert "amount_minor" not in entry.after  # unchanged fields stay out
    assert entry.after["transaction"]["status"] == "SUCCEEDED"
    assert tracker.collect() == ([], [])  # spent


def test_a_change_not_saved_writes_nothing() -> None:
    tracker = ChangeTracker(CALLER, lambda: START)
    payment = new_payment()
    tracker.loaded(payment)
    payment.begin_authorization(transaction_id="t-1", now=START)
    tracker.describe(payment, "payment.authorize")
    assert tracker.collect() == ([], [])


def test_an_undescribed_change_gets_the_default_action_and_a_new_aggregate_its_creation() -> None:
    tracker = ChangeTracker(CALLER, lambda: START)
    created = new_payment(payment_id="22222222-2222-4222-8222-222222222222")
    tracker.added(created)
    changed = new_payment()
    tracker.loaded(changed)
    changed.retry_count += 1
    tracker.saved(changed)
    _, entries = tracker.collect()
    assert [(e.action, e.before is None) for e in entries] == [
        ("payment.create", True),
        ("payment.update", False),
    ]


def test_events_survive_a_read_of_the_aggregate_after_it_was_saved() -> None:
    """An access check (or the use case) reads the payment again after saving it in the same
    transaction: the events recorded on the saved copy still go out."""
    tracker = ChangeTracker(CALLER, lambda: START)
    payment = new_payment()
    tracker.loaded(payment)
    authorized(tracker, payment)
    reread = copy.deepcopy(payment)
    reread.events = []  # as a fresh read from storage: events are not state
    tracker.loaded(reread)
    events, entries = tracker.collect()
    assert [e.event_type for e in events] == ["payment.authorized"]
    assert [e.action for e in entries] == ["payment.authorize"]


def test_two_descriptions_are_two_entries_in_order_and_facts_keep_their_place() -> None:
    tracker = ChangeTracker(CALLER, lambda: START)
    payment = new_payment()
    tracker.loaded(payment)
    tracker.fact("order.cancel", "order", "o-1", after={"cancelled_before_payment": True})
    payment.retry_count += 1
    tracker.describe(payment, "admin.fraud_review.approve", reason="called the buyer")
    txn = payment.begin_authorization(transaction_id="t-1", now=START)
    payment.record_authorization(txn.id, GatewayOutcome.succeeded("ch_1"), START, "e-1")
    tracker.saved(payment)
    tracker.describe(payment, "payment.authorize", transaction=payment.transaction(txn.id))
    failed = PaymentFailed("e-9", "p-9", "o-9", START, reason="x", failure_code="X",
                           retry_attempt=0)  # fmt: skip
    tracker.fact("payment.create", "order", "o-9", events=[failed])
    events, entries = tracker.collect()
    approval = entries[1]
    assert approval.after == {"retry_count": 1} and approval.reason == "called the buyer"
    assert [e.action for e in entries] == [
        "order.cancel",
        "admin.fraud_review.approve",
        "payment.authorize",
        "payment.create",
    ]
    assert [e.event_type for e in events] == ["payment.authorized", "payment.failed"]
