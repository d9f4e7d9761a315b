"""What a unit of work's transaction changed, turned into its side effects at commit.

Repositories tell the tracker about every aggregate they load (a snapshot of its audited
fields is taken then), add or save. When the unit of work commits, `collect()` returns:

- the domain events pulled from every aggregate added or saved in the transaction, for the
  outbox, in the order the aggregates were first seen;
- one audit entry per change of an added or saved aggregate: the changed fields between the
  snapshot and the aggregate as saved.

A use case never writes to the outbox or the audit trail. It may *describe* a change
(`describe`: which action it was, which gateway operation it concerns, why): a description
closes one audit entry at that point (so an admin's approval and the authorization it
starts stay two entries), and what changed after the last description becomes one more
entry under the aggregate's default action. A change that is not saved writes nothing, like
the change itself. Facts that change no aggregate (an order cancelled before it was paid,
a webhook for a payment we do not know) are recorded with `fact`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.actor import Actor
from domain.audit import AuditAction, AuditEntry, AuditOutcome, Fields, ResourceType, new_entry
from domain.audit_records import (
    changes,
    dispute_fields,
    outcome_of,
    payment_fields,
    payment_method_fields,
    refund_fields,
    transaction_fields,
)
from domain.dispute import Dispute
from domain.events import DomainEvent
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.transaction import Transaction

Aggregate = Payment | Refund | PaymentMethod | Dispute

# What the trail calls a change nobody described: (new aggregate, changed aggregate).
_DEFAULT_ACTION = {
    ResourceType.PAYMENT: (AuditAction.PAYMENT_CREATE, "payment.update"),
    ResourceType.REFUND: (AuditAction.REFUND_CREATE, AuditAction.REFUND_STATUS),
    ResourceType.PAYMENT_METHOD: (AuditAction.PAYMENT_METHOD_ADD, "payment_method.update"),
    ResourceType.DISPUTE: (AuditAction.DISPUTE_OPEN, AuditAction.DISPUTE_CLOSE),
}


def _resource_type(aggregate: Aggregate) -> ResourceType:
    if isinstance(aggregate, Payment):
        return ResourceType.PAYMENT
    if isinstance(aggregate, Refund):
        return ResourceType.REFUND
    if isinstance(aggregate, PaymentMethod):
        return ResourceType.PAYMENT_METHOD
    return ResourceType.DISPUTE


def _fields(aggregate: Aggregate) -> Fields:
    if isinstance(aggregate, Payment):
        return payment_fields(aggregate)
    if isinstance(aggregate, Refund):
        return refund_fields(aggregate)
    if isinstance(aggregate, PaymentMethod):
        return payment_method_fields(aggregate)
    return dispute_fields(aggregate)


def _transactions(aggregate: Aggregate) -> dict[str, Fields]:
    if isinstance(aggregate, Payment):
        return {t.id: transaction_fields(t) for t in aggregate.transactions}
    return {}


def _refund_outcome(refund: Refund) -> tuple[AuditOutcome, str | None]:
    status = refund.status.value
    if status == "PROCESSED":
        return AuditOutcome.SUCCESS, None
    if status == "FAILED":
        return AuditOutcome.FAILURE, refund.failure_code or "REFUND_FAILED"
    return AuditOutcome.PENDING, None


@dataclass(slots=True)
class _Snapshot:
    fields: Fields | None  # None: the aggregate is new in this transaction
    transactions: dict[str, Fields]


@dataclass(slots=True)
class _Tracked:
    aggregate: Aggregate
    resource_type: ResourceType
    # The audited state at load, then at each description: the next entry's "before".
    checkpoint: _Snapshot
    written: bool = False  # added or saved in this transaction
    described: bool = False  # a description moved the checkpoint
    # Every object that was added or saved for it: a use case (or an access check) may read
    # the aggregate again after saving it, and each object holds the events it recorded.
    writers: list[Aggregate] = field(default_factory=list)


class ChangeTracker:
    """One per transaction. Not thread-safe; one coroutine (the use case) drives it."""

    def __init__(self, actor: Actor, clock: Callable[[], datetime]) -> None:
        self._actor = actor
        self._clock = clock
        self._tracked: dict[tuple[ResourceType, str], _Tracked] = {}
        # Entries in the order they happened: aggregate entries are placed when described
        # (or at collect for undescribed changes); facts when recorded. The owner is None
        # for facts, and for descriptions that changed nothing (an event applied to a
        # payment it did not change): those are kept even if nothing is written.
        self._order: list[tuple[_Tracked | None, AuditEntry]] = []
        self._facts_events: list[DomainEvent] = []

    def _track(self, aggregate: Aggregate, snapshot: _Snapshot) -> _Tracked:
        key = (_resource_type(aggregate), aggregate.id)
        tracked = self._tracked.get(key)
        if tracked is None:
            tracked = _Tracked(aggregate, key[0], snapshot)
            self._tracked[key] = tracked
        else:
            tracked.aggregate = aggregate  # read again: the latest copy is the state
        return tracked

    @staticmethod
    def _written(tracked: _Tracked, aggregate: Aggregate) -> None:
        tracked.aggregate = aggregate
        tracked.written = True
        if not any(writer is aggregate for writer in tracked.writers):
            tracked.writers.append(aggregate)

    def loaded(self, aggregate: Aggregate) -> None:
        """Read from storage: its current state is what later changes are compared with."""
        snapshot = _Snapshot(_fields(aggregate), _transactions(aggregate))
        tracked = self._track(aggregate, snapshot)
        if not tracked.written and not tracked.described:
            # Read again (a locking read after a plain one) before any change: the newer
            # read is the state this transaction changes.
            tracked.checkpoint = snapshot

    def added(self, aggregate: Aggregate) -> None:
        """Inserted: the whole aggregate is the change."""
        self._written(self._track(aggregate, _Snapshot(None, {})), aggregate)

    def saved(self, aggregate: Aggregate) -> None:
        tracked = self._tracked.get((_resource_type(aggregate), aggregate.id))
        if tracked is None:  # saved without a load through this transaction: all of it
            tracked = self._track(aggregate, _Snapshot(None, {}))
        self._written(tracked, aggregate)

    def describe(
        self,
        aggregate: Aggregate,
        action: str,
        *,
        transaction: Transaction | None = None,
        outcome: AuditOutcome | None = None,
        reason: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Closes an audit entry for what changed on `aggregate` since it was loaded (or last
        described), under `action`. With `transaction`, the gateway operation concerned is in
        the entry and gives its outcome (declined: failure with its code; unknown: pending).
        Nothing is recorded when nothing changed and there is no `extra`."""
        tracked = self._tracked.get((_resource_type(aggregate), aggregate.id))
        if tracked is None:
            tracked = self._track(aggregate, _Snapshot(None, {}))
        described = self._entry(tracked, action, transaction, outcome, reason, extra)
        tracked.described = True
        if described is not None:
            entry, changed = described
            self._order.append((tracked if changed else None, entry))

    def fact(
        self,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
        reason: str | None = None,
        after: Mapping[str, Any] | None = None,
        events: list[DomainEvent] | None = None,
    ) -> None:
        """Something that changed no aggregate but belongs in the trail (and, with `events`,
        on the event stream), in this transaction."""
        entry = new_entry(
            action,
            resource_type,
            resource_id,
            actor=self._actor,
            occurred_at=self._clock(),
            outcome=outcome,
            reason=reason,
            after=after,
        )
        self._order.append((None, entry))
        self._facts_events.extend(events or [])

    def _entry(  # noqa: PLR0917 - private; every caller passes all six
        self,
        tracked: _Tracked,
        action: str | None,
        transaction: Transaction | None,
        outcome: AuditOutcome | None,
        reason: str | None,
        extra: Mapping[str, Any] | None,
    ) -> tuple[AuditEntry, bool] | None:
        """The entry for what changed since the checkpoint, and whether anything did."""
        aggregate = tracked.aggregate
        now_fields = _fields(aggregate)
        now_txns = _transactions(aggregate)
        before_fields = tracked.checkpoint.fields
        if transaction is not None and before_fields is not None:
            before_fields = before_fields | {
                "transaction": tracked.checkpoint.transactions.get(transaction.id)
            }
        after_fields = now_fields
        if transaction is not None:
            after_fields = now_fields | {"transaction": now_txns.get(transaction.id)}
        old, new = changes(before_fields, after_fields)
        tracked.checkpoint = _Snapshot(now_fields, now_txns)
        changed = before_fields is None or bool(new)
        if not changed and not extra:
            return None
        if outcome is None:
            if transaction is not None and isinstance(aggregate, Payment):
                # The operation as it is now (the caller may hold an older copy of it).
                outcome, reason = outcome_of(aggregate.transaction(transaction.id))
            elif isinstance(aggregate, Refund):
                outcome, reason = _refund_outcome(aggregate)
            else:
                outcome = AuditOutcome.SUCCESS
        if action is None:
            created, updated = _DEFAULT_ACTION[tracked.resource_type]
            action = created if before_fields is None else updated
        entry = new_entry(
            action,
            tracked.resource_type,
            aggregate.id,
            actor=self._actor,
            occurred_at=self._clock(),
            outcome=outcome,
            reason=reason,
            before=old,
            after=new | dict(extra or {}),
        )
        return entry, changed

    def collect(self) -> tuple[list[DomainEvent], list[AuditEntry]]:
        """The events and audit entries of everything written; the tracker is spent after."""
        for tracked in self._tracked.values():
            if tracked.written:
                described = self._entry(tracked, None, None, None, None, None)
                if described is not None:
                    self._order.append((tracked, described[0]))
        entries = [e for owner, e in self._order if owner is None or owner.written]
        events: list[DomainEvent] = []
        for tracked in self._tracked.values():
            for writer in tracked.writers:
                if isinstance(writer, Payment | Dispute):
                    events.extend(writer.pull_events())
        events.extend(self._facts_events)
        self._tracked.clear()
        self._order.clear()
        self._facts_events = []
        return events, entries
