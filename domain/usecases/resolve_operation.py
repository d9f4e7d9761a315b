"""An operator closes an operation whose outcome is unknown (`payment-service operations
resolve`), after learning at the gateway's dashboard or from its support what it did.

The reconciler settles such operations on its own by asking the gateway; this is for the ones
it cannot settle (a gateway that has no lookup for that operation, one that keeps answering
ambiguously). The answer goes through the same recorders as a gateway's answer would, so the
payment moves, its events are written to the outbox and its amounts stay consistent; the
audit entry names the operator and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.audit import AuditAction, AuditOutcome
from domain.enums import TransactionType
from domain.errors import FieldViolation, InvalidStateTransition, ValidationFailed
from domain.gateway import GatewayOutcome
from domain.payment import Payment
from domain.transaction import Transaction
from domain.usecases.deps import Deps
from domain.usecases.reconcile import RECORDERS
from domain.usecases.refunds import settle_refund

# The failure code an operator's "it failed" leaves on the operation.
RESOLVED_FAILED = "RESOLVED_BY_OPERATOR"


class Resolution(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ResolveOperation:
    payment_id: str
    transaction_id: str
    resolution: Resolution
    reason: str
    # The gateway's id of what it did (the PaymentIntent, capture, refund...), when known.
    reference: str | None = None


def _require_gateway_reference(cmd: ResolveOperation, payment: Payment, txn: Transaction) -> None:
    """A succeeded authorization must name the gateway's payment: the capture, void or refund
    that follows is asked of the gateway under it."""
    if (
        cmd.resolution is Resolution.SUCCEEDED
        and txn.type is TransactionType.AUTHORIZATION
        and not cmd.reference
        and payment.gateway_payment_id is None
    ):
        raise ValidationFailed(
            [FieldViolation("reference", "the gateway's id of the authorized payment is required")]
        )


def _outcome(cmd: ResolveOperation) -> GatewayOutcome:
    if cmd.resolution is Resolution.SUCCEEDED:
        return GatewayOutcome.succeeded(cmd.reference or f"resolved:{cmd.transaction_id}")
    return GatewayOutcome.declined(RESOLVED_FAILED, cmd.reason, cmd.reference)


async def resolve_operation(cmd: ResolveOperation, deps: Deps) -> Transaction:
    """Records the operator's answer for one open operation; returns it settled. An operation
    no longer open (the reconciler got there first) is refused, not overwritten."""
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(cmd.payment_id)
        txn = payment.transaction(cmd.transaction_id)
        if not txn.is_open:
            raise InvalidStateTransition(
                f"operation {txn.id} is already {txn.status.value.lower()}",
                metadata={"transaction_id": txn.id, "transaction_status": txn.status.value},
            )
        _require_gateway_reference(cmd, payment, txn)
        now = deps.clock.now()
        RECORDERS[txn.type](payment, txn.id, _outcome(cmd), now, deps.ids.new_id())
        await uow.payments.save(payment)
        settled = payment.transaction(txn.id)
        uow.describe(
            payment,
            AuditAction.ADMIN_OPERATION_RESOLVE,
            transaction=settled,
            # The operator's action succeeded, whichever way it settled the operation; the
            # entry keeps the operator's reason (the operation's own is in `after`).
            outcome=AuditOutcome.SUCCESS,
            reason=cmd.reason,
            extra={"resolution": cmd.resolution.value},
        )
        if settled.type is TransactionType.REFUND:
            await settle_refund(uow, settled, now)
        await uow.commit()
    return settled
