"""Settling operations whose outcome is unknown (Kill Bill's janitor).

An operation stays open (PENDING or UNKNOWN) when the gateway call timed out or the process
died between recording the intent and recording the answer. Once it is older than any call
could still be in flight, the reconciler asks the gateway what it did under the operation's
idempotency key, and records that - or, if the gateway never received it, closes it as not
done. Gateways that cannot be reached are asked again later, with exponential backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.actor import Actor, ActorKind
from domain.audit import AuditAction
from domain.enums import TransactionType
from domain.errors import DomainError
from domain.gateway import GatewayOutcome, LookupRequest
from domain.payment import Payment
from domain.usecases.deps import Deps
from domain.usecases.gateway_step import NOT_REACHED
from domain.usecases.refunds import settle_refund

log = logging.getLogger("payments.reconciler")

Recorder = Callable[[Payment, str, GatewayOutcome, datetime, str], None]
RECORDERS: dict[TransactionType, Recorder] = {
    TransactionType.AUTHORIZATION: Payment.record_authorization,
    TransactionType.CAPTURE: Payment.record_capture,
    TransactionType.VOID: Payment.record_void,
    TransactionType.REFUND: Payment.record_refund,
}
RECONCILER = Actor(ActorKind.SYSTEM, "reconciler", origin="job:reconciler")


async def reconcile_operation(payment_id: str, transaction_id: str, deps: Deps) -> None:
    """Ask the gateway about one open operation and record the answer."""
    async with deps.uow as uow:
        payment = await uow.payments.get(payment_id)
    txn = payment.transaction(transaction_id)
    if not txn.is_open:
        return
    gateway = deps.gateways.get(payment.gateway)
    outcome = await gateway.lookup(
        LookupRequest(txn.idempotency_key, txn.type, payment.gateway_payment_id, txn.amount)
    )
    async with deps.uow as uow:
        payment = await uow.payments.get_for_update(payment_id)
        txn = payment.transaction(transaction_id)
        if not txn.is_open:
            return  # settled by someone else meanwhile
        now = deps.clock.now()
        if outcome is None:
            payment.abandon_operation(
                txn.id, now, NOT_REACHED, "the gateway never received this operation"
            )
        else:
            RECORDERS[txn.type](payment, txn.id, outcome, now, deps.ids.new_id())
        await uow.payments.save(payment)
        uow.describe(payment, AuditAction.PAYMENT_RECONCILE, transaction=txn)
        if txn.type is TransactionType.REFUND:
            await settle_refund(uow, payment.transaction(txn.id), now)
        await uow.commit()
    log.info(
        "reconciled operation",
        extra={
            "payment_id": payment_id,
            "transaction_id": transaction_id,
            "outcome": outcome.status.value if outcome else NOT_REACHED,
        },
    )


@dataclass
class Reconciler:
    """One pass at a time settles every operation open for longer than `settle_after`."""

    deps: Callable[[Actor], Deps]
    settle_after: timedelta
    first_backoff: timedelta = timedelta(seconds=5)
    max_backoff: timedelta = timedelta(minutes=10)
    batch: int = 100
    # transaction id -> (failed attempts, not before)
    _retry_at: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    async def run_once(self) -> int:
        """Returns how many operations were settled."""
        deps = self.deps(RECONCILER)
        now = deps.clock.now()
        async with deps.uow as uow:
            found = await uow.payments.find_open_operations(now - self.settle_after, self.batch)
        settled = 0
        for payment_id, transaction_id in found:
            attempts, not_before = self._retry_at.get(transaction_id, (0, now))
            if not_before > now:
                continue
            try:
                await reconcile_operation(payment_id, transaction_id, self.deps(RECONCILER))
            except DomainError as error:  # gateway unreachable, database busy: later
                attempts += 1
                delay = min(self.first_backoff * 2 ** (attempts - 1), self.max_backoff)
                self._retry_at[transaction_id] = (attempts, now + delay)
                log.warning(
                    "could not reconcile yet: %s",
                    error.reason,
                    extra={"transaction_id": transaction_id, "retry_in_s": delay.total_seconds()},
                )
                continue
            self._retry_at.pop(transaction_id, None)
            settled += 1
        return settled
