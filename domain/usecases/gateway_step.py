"""Stripe's "atomic phases" for one gateway operation.

1. In its own committed transaction, lock the payment, check the operation is allowed and
   record the intent (a PENDING transaction carrying the gateway idempotency key).
2. Call the gateway outside any database transaction.
3. In a new transaction, read the payment again and apply the answer (the save is guarded
   by the payment's version; a concurrent change makes us read and apply again).

A crash or timeout between 1 and 3 leaves the intent PENDING or UNKNOWN, never a silent loss:
the reconciler asks the gateway by the idempotency key and finishes the operation.

Each operation (operations.py, refunds.py) is a small class saying what its phases do; the
unit of work writes their events and audit entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.errors import ConcurrentModification, GatewayOutcomeUnknown, GatewayUnavailable
from domain.gateway import GatewayOutcome, PaymentGateway
from domain.payment import Payment
from domain.ports import UnitOfWork
from domain.transaction import Transaction
from domain.usecases.deps import Deps

# How often phase 3 reads again when someone else changed the payment meanwhile (a webhook,
# the reconciler): each conflict means another writer made progress.
_OUTCOME_ATTEMPTS = 5


class GatewayOperation:
    """What one gateway operation does in each phase. Subclasses set `action` (the audit
    action of both phases) and implement `begin`, `call` and `record`."""

    action: str

    def begin(self, payment: Payment) -> Transaction | None:
        """Phase 1: change the payment and return the operation's intent; None when there
        is nothing to send (the payment is already where the operation would take it)."""
        raise NotImplementedError

    async def began(self, uow: UnitOfWork, payment: Payment, txn: Transaction) -> None:
        """More writes in phase 1's transaction (e.g. the Refund record)."""

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        """Phase 2, outside any transaction."""
        raise NotImplementedError

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        """Phase 3: apply the gateway's answer."""
        raise NotImplementedError

    async def recorded(self, uow: UnitOfWork, payment: Payment, txn: Transaction) -> None:
        """More writes in the transaction that closes the operation, whatever its end
        (answered, unreachable or unknown)."""


async def run_gateway_step(deps: Deps, payment_id: str, operation: GatewayOperation) -> Payment:
    """Shielded: a caller that goes away (cancelled call, passed deadline) does not cut a
    money movement in half; the operation runs to its recorded end regardless."""
    task = asyncio.ensure_future(_run(deps, payment_id, operation))
    # If our caller is cancelled, nobody awaits the task: fetch its outcome so that a failure
    # is not reported as "never retrieved" (it is recorded in the database either way).
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


async def _run(deps: Deps, payment_id: str, operation: GatewayOperation) -> Payment:
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        txn = operation.begin(payment)
        await uow.payments.save(payment)
        uow.describe(payment, operation.action, transaction=txn)
        if txn is not None:
            await operation.began(uow, payment, txn)
        await uow.commit()
    if txn is None:
        return payment

    try:
        # Inside the try: an unconfigured gateway is unreachable too, and must not leave the
        # intent PENDING (it would block the payment with OperationInProgress for good).
        gateway = deps.gateways.get(payment.gateway)
        if await deps.breaker.is_open(payment.gateway):
            raise GatewayUnavailable(
                f"gateway {payment.gateway.value} is failing; its circuit is open",
                metadata={"gateway": payment.gateway.value, "circuit": "OPEN"},
            )
        outcome = await _call_watched(deps, payment, txn, operation, gateway)
    except GatewayUnavailable as unreachable:
        code, detail = unreachable.reason, unreachable.message
        await _close(deps, payment_id, txn, operation, lambda p: p.abandon_operation(
            txn.id, deps.clock.now(), code, detail))  # fmt: skip
        raise
    except (GatewayOutcomeUnknown, TimeoutError) as unknown:
        detail = (
            unknown.message
            if isinstance(unknown, GatewayOutcomeUnknown)
            else f"no answer from the gateway within {deps.gateway_timeout:g}s"
        )
        await _close(deps, payment_id, txn, operation, lambda p: p.mark_outcome_unknown(
            txn.id, deps.clock.now(), detail))  # fmt: skip
        if isinstance(unknown, TimeoutError):
            raise GatewayOutcomeUnknown(
                "the gateway did not answer in time; the outcome will be reconciled",
                metadata={"payment_id": payment_id, "transaction_id": txn.id},
            ) from unknown
        raise
    return await _close(
        deps,
        payment_id,
        txn,
        operation,
        lambda p: operation.record(p, p.transaction(txn.id), outcome),
    )


async def _call_watched(
    deps: Deps,
    payment: Payment,
    txn: Transaction,
    operation: GatewayOperation,
    gateway: PaymentGateway,
) -> GatewayOutcome:
    """The call, bounded by the gateway timeout, with its health told to the breaker: no
    answer counts against the gateway; any answer, a decline included, for it."""
    try:
        async with asyncio.timeout(deps.gateway_timeout):
            outcome = await operation.call(gateway, payment, txn)
    except (GatewayUnavailable, GatewayOutcomeUnknown, TimeoutError):
        await deps.breaker.record_failure(payment.gateway)
        raise
    await deps.breaker.record_success(payment.gateway)
    return outcome


async def _close(
    deps: Deps,
    payment_id: str,
    txn: Transaction,
    operation: GatewayOperation,
    change: Callable[[Payment], None],
) -> Payment:
    """Phase 3: the operation's end (answered, unreachable or unknown) in one transaction.

    No lock: the save is guarded by the version read here. When another writer got in
    between, the whole phase runs again on a fresh read (the change is a pure function of
    the payment and the gateway's answer, so applying it again is safe)."""
    for attempt in range(_OUTCOME_ATTEMPTS):
        try:
            async with deps.uow as uow:
                payment = await uow.payments.get(payment_id)
                change(payment)
                current = payment.transaction(txn.id)
                await uow.payments.save(payment)
                uow.describe(payment, operation.action, transaction=current)
                await operation.recorded(uow, payment, current)
                await uow.commit()
            return payment
        except ConcurrentModification:
            if attempt == _OUTCOME_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
