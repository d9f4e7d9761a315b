"""The audit trail's vocabulary: what was done (action) to which resource, by whom (the
current actor), with which outcome, and the fields it changed (redacted).

Entries are staged on the unit of work (`uow.audit.record(...)`) and written, chained, in the
same database transaction as the change they describe: a rolled back change leaves no entry,
a committed one always has its entry.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.actor import Actor, current_actor
from domain.audit_redaction import redact, redact_text

# A JSON object of changed fields: str keys; str, int, bool, None, nested objects and lists.
Fields = dict[str, Any]


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # refused or declined; `reason` says why
    PENDING = "pending"  # accepted, its result still to come (gateway answer, 3-D Secure)


class AuditAction(StrEnum):
    """The actions the service itself records. Admin tools record `admin.<something>`."""

    PAYMENT_CREATE = "payment.create"
    PAYMENT_AUTHORIZE = "payment.authorize"
    PAYMENT_CONFIRM = "payment.confirm"
    PAYMENT_CAPTURE = "payment.capture"
    PAYMENT_CANCEL = "payment.cancel"
    PAYMENT_REFUND = "payment.refund"
    PAYMENT_FAIL_OVER = "payment.fail_over"
    PAYMENT_RECONCILE = "payment.reconcile"
    REFUND_CREATE = "refund.create"
    REFUND_STATUS = "refund.status"
    PAYMENT_METHOD_ADD = "payment_method.add"
    PAYMENT_METHOD_REMOVE = "payment_method.remove"
    PAYMENT_METHOD_SET_DEFAULT = "payment_method.set_default"
    PAYMENT_METHOD_CLEAR_DEFAULT = "payment_method.clear_default"
    WEBHOOK_APPLY = "webhook.apply"
    DISPUTE_OPEN = "dispute.open"
    DISPUTE_CLOSE = "dispute.close"
    ORDER_CANCEL = "order.cancel"
    PAYMENT_RISK_HOLD = "payment.risk_hold"  # the fraud checks held it for review
    PAYMENT_RISK_BLOCK = "payment.risk_block"  # the fraud checks refused it
    ADMIN_REVIEW_APPROVE = "admin.fraud_review.approve"
    ADMIN_REVIEW_REJECT = "admin.fraud_review.reject"
    PAYMENT_ANONYMIZE = "payment.anonymize"  # retention: personal data cleared
    PAYMENT_METHOD_ANONYMIZE = "payment_method.anonymize"


class ResourceType(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    PAYMENT_METHOD = "payment_method"
    DISPUTE = "dispute"
    WEBHOOK_EVENT = "webhook_event"
    ORDER = "order"


ACTION_FORMAT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_TEXT = 200  # actor subject, ids, origin, request id, reason: bounded, never an error


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the trail before it is chained (sequence number and hashes come at commit)."""

    id: str
    occurred_at: datetime
    actor_kind: str
    actor_subject: str
    action: str
    resource_type: str
    resource_id: str
    request_id: str
    origin: str
    outcome: str  # an AuditOutcome value (plain text when read back for verification)
    reason: str | None
    before: Fields | None
    after: Fields | None


def _bounded(value: str) -> str:
    return redact_text(value)[:MAX_TEXT]


def new_entry(
    action: str,
    resource_type: str,
    resource_id: str,
    *,
    actor: Actor,
    occurred_at: datetime,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    if not ACTION_FORMAT.fullmatch(action):
        raise ValueError(f"audit action {action!r} is not of the form noun.verb")
    return AuditEntry(
        id=str(uuid.uuid4()),
        occurred_at=occurred_at.astimezone(UTC),
        actor_kind=actor.kind.value,
        actor_subject=_bounded(actor.subject),
        action=action,
        resource_type=_bounded(resource_type),
        resource_id=_bounded(resource_id),
        request_id=_bounded(actor.request_id),
        origin=_bounded(actor.origin),
        outcome=AuditOutcome(outcome).value,
        reason=None if reason is None else _bounded(reason),
        before=None if before is None else redact(dict(before)),
        after=None if after is None else redact(dict(after)),
    )


class AuditTrail:
    """The unit of work's audit port: stages entries until the transaction commits (the
    adapter then writes them in that transaction) or discards them when it rolls back.

    The actor is the one acting when `record` is called (`domain.actor.current_actor`)."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._staged: list[AuditEntry] = []

    def record(
        self,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
        reason: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        self._staged.append(
            new_entry(
                action,
                resource_type,
                resource_id,
                actor=current_actor.get(),
                occurred_at=self._clock(),
                outcome=outcome,
                reason=reason,
                before=before,
                after=after,
            )
        )

    @property
    def staged(self) -> list[AuditEntry]:
        return list(self._staged)

    def drain(self) -> list[AuditEntry]:
        """The staged entries, in the order they were recorded; the trail is empty after."""
        staged, self._staged = self._staged, []
        return staged


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Run a block as `actor` (jobs, the consumer, webhooks), restoring the previous one."""
    token = current_actor.set(actor)
    try:
        yield actor
    finally:
        current_actor.reset(token)
