"""The Payment state machine at a glance: which status may follow which, and which status
each operation needs before it can begin. Payment (payment.py) enforces it."""

from __future__ import annotations

from domain.enums import PaymentStatus
from domain.errors import InvalidStateTransition

S = PaymentStatus

TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.PENDING: frozenset({S.AUTHORIZED, S.REQUIRES_ACTION, S.UNDER_REVIEW, S.FAILED, S.CANCELLED}),
    # Confirming may meet a further challenge: it stays REQUIRES_ACTION.
    S.REQUIRES_ACTION: frozenset({S.AUTHORIZED, S.REQUIRES_ACTION, S.FAILED, S.CANCELLED}),
    # A declined payment may be authorized again (Stripe: requires_payment_method).
    S.FAILED: frozenset({S.AUTHORIZED, S.REQUIRES_ACTION, S.UNDER_REVIEW, S.FAILED, S.CANCELLED}),
    # Held by the fraud checks: approved goes back to PENDING with its authorization begun in
    # the same transaction; rejected fails; nothing is held at the gateway to void.
    S.UNDER_REVIEW: frozenset({S.PENDING, S.FAILED, S.CANCELLED}),
    S.AUTHORIZED: frozenset({S.CAPTURED, S.CANCELLED}),
    S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Which status an operation needs before it can begin.
AUTHORIZABLE = frozenset({S.PENDING, S.FAILED})
REFUNDABLE = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED})
# Cancelling these needs nothing from the gateway.
CANCEL_AT_ONCE = AUTHORIZABLE | {S.UNDER_REVIEW}
# Cancelling these needs a void at the gateway: it holds (or may hold) an authorization.
VOID_AT_GATEWAY = frozenset({S.AUTHORIZED, S.REQUIRES_ACTION})


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[current]


def require_status(
    payment_id: str, status: PaymentStatus, allowed: frozenset[PaymentStatus], operation: str
) -> None:
    if status not in allowed:
        raise InvalidStateTransition(
            f"cannot {operation} a payment that is {status.value}",
            metadata={"payment_id": payment_id, "status": status.value, "operation": operation},
        )


def require_transition(payment_id: str, status: PaymentStatus, target: PaymentStatus) -> None:
    if not can_transition(status, target):
        raise InvalidStateTransition(
            f"a {status.value} payment cannot become {target.value}",
            metadata={"payment_id": payment_id, "status": status.value, "to": target.value},
        )
