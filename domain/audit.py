"""The audit trail's vocabulary: what was done (action) to which resource, by whom (the
current actor), with which outcome, and the fields it changed (redacted).

The unit of work writes the entries (domain/changes.py) in the same database transaction as
the change they describe: a rolled back change leaves no entry, a committed one always has
its entry. The actor is the one the unit of work was built for, passed explicitly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.actor import Actor
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
    FX_RATE_SET = "fx_rate.set"  # an administrator set an exchange rate
    # An operator closed an operation whose outcome was unknown (`operations resolve`).
    ADMIN_OPERATION_RESOLVE = "admin.operation.resolve"


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
