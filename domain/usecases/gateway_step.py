"""Stripe's "atomic phases" for one gateway operation.

1. In its own committed transaction, read the payment, check the operation is allowed and
   record the intent (a PENDING transaction carrying the gateway idempotency key); the save
   is guarded by the version read (after a concurrent change, again on a locked read).
2. Call the gateway outside any database transaction.
3. In a new transaction, apply the answer to the payment as phase 1 left it (the save is
   guarded by the payment's version; after a concurrent change, on a locked read).

A crash or timeout between 1 and 3 leaves the intent PENDING or UNKNOWN, never a silent loss:
the reconciler asks the gateway by the idempotency key and finishes the operation.

Each operation (operations.py, refunds.py) is a small class saying what its phases do; the
unit of work writes their events and audit entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.enums import TransactionStatus
from domain.errors import (
    ConcurrentModification,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
    OperationInProgress,
    PaymentDeclined,
)
from domain.gateway import GatewayOutcome, PaymentGateway
from domain.payment import Payment
from domain.ports import UnitOfWork
from domain.transaction import Transaction
from domain.usecases.deps import Deps


class GatewayOperation:
    """What one gateway operation does in each phase. Subclasses set `action` (the audit
    action of both phases) and implement `begin`, `call` and `record`."""

    action: str

    def begin(self, payment: Payment, transaction_id: str) -> Transaction | None:
        """Phase 1: change the payment and return the operation's intent, under
        `transaction_id`; None when there is nothing to send (the payment is already where
        the operation would take it)."""
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

    def resumed(self, payment: Payment, txn: Transaction) -> None:
        """The request that started `txn` was sent again, and `txn` is settled: nothing is
        sent; the operation only learns what it started (e.g. which refund)."""

    def result(self, payment: Payment, txn: Transaction) -> object | None:
        """What the request answers once the gateway answered: the payment, or the decline
        (a PaymentDeclined the use case raises). None when the request goes on (an
        authorization captured at once), so that it is answered later."""
        return declined(payment, txn) or payment


def declined(payment: Payment, txn: Transaction) -> PaymentDeclined | None:
    """The error a declined (FAILED) operation answers, None otherwise."""
    if txn.status is not TransactionStatus.FAILED:
        return None
    return PaymentDeclined(
        txn.failure_code or "DECLINED",
        txn.failure_reason or "the gateway declined the operation",
        metadata={
            "payment_id": payment.id,
            "status": payment.status.value,
            "transaction_id": txn.id,
        },
    )


async def run_gateway_step(deps: Deps, payment_id: str, operation: GatewayOperation) -> Payment:
    """Shielded: a caller that goes away (cancelled call, passed deadline) does not cut a
    money movement in half; the operation runs to its recorded end regardless."""
    task = asyncio.ensure_future(_run(deps, payment_id, operation))
    # If our caller is cancelled, nobody awaits the task: fetch its outcome so that a failure
    # is not reported as "never retrieved" (it is recorded in the database either way).
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


async def _run(deps: Deps, payment_id: str, operation: GatewayOperation) -> Payment:
    payment, txn = await _begin(deps, payment_id, operation)
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
        await _close(deps, payment, txn, operation, lambda p: p.abandon_operation(
            txn.id, deps.clock.now(), code, detail))  # fmt: skip
        raise
    except (GatewayOutcomeUnknown, TimeoutError) as unknown:
        detail = (
            unknown.message
            if isinstance(unknown, GatewayOutcomeUnknown)
            else f"no answer from the gateway within {deps.gateway_timeout:g}s"
        )
        await _close(deps, payment, txn, operation, lambda p: p.mark_outcome_unknown(
            txn.id, deps.clock.now(), detail))  # fmt: skip
        if isinstance(unknown, TimeoutError):
            raise GatewayOutcomeUnknown(
                "the gateway did not answer in time; the outcome will be reconciled",
                metadata={"payment_id": payment_id, "transaction_id": txn.id},
            ) from unknown
        raise
    return await _close(
        deps,
        payment,
        txn,
        operation,
        lambda p: operation.record(p, p.transaction(txn.id), outcome),
        conclude=True,
    )


async def _begin(
    deps: Deps, payment_id: str, operation: GatewayOperation
) -> tuple[Payment, Transaction | None]:
    """Phase 1: the intent, committed; with None when there is nothing to send (the request's
    operation was settled before, or the payment is already where it would take it).

    First on a plain read: the save is guarded by the version read, which is enough when
    nobody else writes the payment meanwhile (almost always). When someone did, the phase
    runs again on a locked read. Nothing has left the process yet, and the ids drawn in the
    rolled back attempt are drawn again (RequestIds), as a replay after a crash would."""
    for locked in (False, True):
        try:
            async with deps.uow as uow:
                read = uow.payments.get_for_update if locked else uow.payments.get
                payment = await read(payment_id)
                # Taken inside the transaction, after the request's key is claimed: a keyed
                # request sent again after a crash makes the same id (RequestIds), and finds
                # its operation.
                transaction_id = deps.ids.new_id()
                started = _started_before(payment, transaction_id)
                while started is not None and _never_reached(started):
                    # Started before, but the gateway never had it: this time, for real.
                    transaction_id = deps.ids.new_id()
                    started = _started_before(payment, transaction_id)
                if started is not None:
                    operation.resumed(payment, started)
                    # Commits the request's claim (taken over from the dead attempt), so that
                    # the answer is stored with it and replayed from now on, whatever happens.
                    await uow.commit()
                    return payment, None
                txn = operation.begin(payment, transaction_id)
                await uow.payments.save(payment)
                uow.describe(payment, operation.action, transaction=txn)
                if txn is not None:
                    await operation.began(uow, payment, txn)
                else:
                    uow.conclude(payment)  # done without the gateway: this is the answer
                await uow.commit()
            return payment, txn
        except ConcurrentModification:
            if locked:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# The failure codes of an operation closed because the gateway certainly never acted on it
# (unreachable; or, asked later by the reconciler, it had never received it).
NOT_REACHED = "GATEWAY_NOT_REACHED"
_NEVER_REACHED = frozenset({GatewayUnavailable.reason, NOT_REACHED})


def _never_reached(txn: Transaction) -> bool:
    return txn.status is TransactionStatus.FAILED and txn.failure_code in _NEVER_REACHED


def _started_before(payment: Payment, transaction_id: str) -> Transaction | None:
    """The operation this request already started (it is a retry of a request cut short by
    a crash), settled. Still open: the reconciler settles it first; ask again later."""
    started = next((t for t in payment.transactions if t.id == transaction_id), None)
    if started is None:
        return None
    if started.is_open:
        raise OperationInProgress(
            "this request's operation is being settled with the gateway; retry later",
            metadata={"payment_id": payment.id, "transaction_id": started.id},
        )
    return started


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
    begun: Payment,
    txn: Transaction,
    operation: GatewayOperation,
    change: Callable[[Payment], None],
    *,
    conclude: bool = False,
) -> Payment:
    """Phase 3: the operation's end (answered, unreachable or unknown) in one transaction.

    First on the payment as phase 1 saved it, without reading it again: the save is guarded
    by the version phase 1 wrote, which is enough when nobody else writes the payment
    meanwhile (almost always). When someone did (a webhook, the reconciler, concurrent
    refunds of one payment), the phase runs again on a locked read, which cannot conflict:
    an answered operation is never left unrecorded."""
    for locked in (False, True):
        try:
            async with deps.uow as uow:
                if locked:
                    payment = await uow.payments.get_for_update(begun.id)
                else:
                    payment = begun
                    uow.payments.adopt(payment)
                change(payment)
                current = payment.transaction(txn.id)
                await uow.payments.save(payment)
                uow.describe(payment, operation.action, transaction=current)
                await operation.recorded(uow, payment, current)
                result = operation.result(payment, current) if conclude else None
                if result is not None:
                    uow.conclude(result)  # the request's answer commits with its outcome
                await uow.commit()
            return payment
        except ConcurrentModification:
            if locked:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
