"""Stripe's "atomic phases" for one gateway operation.

1. In its own committed transaction, lock the payment, check the operation is allowed and
   record the intent (a PENDING transaction carrying the gateway idempotency key).
2. Call the gateway outside any database transaction.
3. In a new transaction, lock the payment again and apply the answer.

A crash or timeout between 1 and 3 leaves the intent PENDING or UNKNOWN, never a silent loss:
the reconciler asks the gateway by the idempotency key and finishes the operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.audit_records import payment_fields, record_payment
from domain.errors import GatewayOutcomeUnknown, GatewayUnavailable
from domain.gateway import GatewayOutcome, PaymentGateway
from domain.payment import Payment
from domain.transaction import Transaction
from domain.usecases.deps import Deps

Begin = Callable[[Payment], Transaction | None]
Call = Callable[[PaymentGateway, Payment, Transaction], Awaitable[GatewayOutcome]]
Record = Callable[[Payment, Transaction, GatewayOutcome], None]
AfterCommit = Callable[[Deps, Payment, Transaction], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GatewayStep:
    # The audit action of both phases (payment.capture ...): the intent, then its outcome.
    action: str
    begin: Begin
    call: Call
    record: Record
    # Extra writes in the same transaction as phase 1 / phase 3 (e.g. the Refund row).
    on_begin: AfterCommit | None = None
    on_record: AfterCommit | None = None


async def run_gateway_step(deps: Deps, payment_id: str, step: GatewayStep) -> Payment:
    """Shielded: a caller that goes away (cancelled call, passed deadline) does not cut a
    money movement in half; the operation runs to its recorded end regardless."""
    task = asyncio.ensure_future(_run_gateway_step(deps, payment_id, step))
    # If our caller is cancelled, nobody awaits the task: fetch its outcome so that a failure
    # is not reported as "never retrieved" (it is recorded in the database either way).
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)


async def _run_gateway_step(deps: Deps, payment_id: str, step: GatewayStep) -> Payment:
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        before = payment_fields(payment)
        txn = step.begin(payment)
        await uow.payments.save(payment)
        record_payment(uow.audit, step.action, before, payment, txn)
        if txn is not None and step.on_begin:
            await step.on_begin(deps, payment, txn)
        await uow.outbox.add(payment.pull_events())
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
        outcome = await _call_watched(deps, payment, txn, step, gateway)
    except GatewayUnavailable as unreachable:
        code, detail = unreachable.reason, unreachable.message
        await _close(deps, payment_id, txn, step, lambda p: p.abandon_operation(
            txn.id, deps.clock.now(), code, detail))  # fmt: skip
        raise
    except (GatewayOutcomeUnknown, TimeoutError) as unknown:
        detail = (
            unknown.message
            if isinstance(unknown, GatewayOutcomeUnknown)
            else f"no answer from the gateway within {deps.gateway_timeout:g}s"
        )
        await _close(deps, payment_id, txn, step, lambda p: p.mark_outcome_unknown(
            txn.id, deps.clock.now(), detail))  # fmt: skip
        if isinstance(unknown, TimeoutError):
            raise GatewayOutcomeUnknown(
                "the gateway did not answer in time; the outcome will be reconciled",
                metadata={"payment_id": payment_id, "transaction_id": txn.id},
            ) from unknown
        raise

    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        current = payment.transaction(txn.id)
        before = payment_fields(payment, current)
        step.record(payment, current, outcome)
        await uow.payments.save(payment)
        record_payment(uow.audit, step.action, before, payment, current)
        if step.on_record:
            await step.on_record(deps, payment, current)
        await uow.outbox.add(payment.pull_events())
        await uow.commit()
    return payment


async def _call_watched(
    deps: Deps, payment: Payment, txn: Transaction, step: GatewayStep, gateway: PaymentGateway
) -> GatewayOutcome:
    """The call, bounded by the gateway timeout, with its health told to the breaker: no
    answer counts against the gateway; any answer, a decline included, for it."""
    try:
        async with asyncio.timeout(deps.gateway_timeout):
            outcome = await step.call(gateway, payment, txn)
    except (GatewayUnavailable, GatewayOutcomeUnknown, TimeoutError):
        await deps.breaker.record_failure(payment.gateway)
        raise
    await deps.breaker.record_success(payment.gateway)
    return outcome


async def _close(
    deps: Deps,
    payment_id: str,
    txn: Transaction,
    step: GatewayStep,
    change: Callable[[Payment], None],
) -> None:
    """Record that the call ended without an answer to apply (unreachable or unknown)."""
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        before = payment_fields(payment, payment.transaction(txn.id))
        change(payment)
        await uow.payments.save(payment)
        record_payment(uow.audit, step.action, before, payment, payment.transaction(txn.id))
        if step.on_record:
            await step.on_record(deps, payment, payment.transaction(txn.id))
        await uow.commit()
