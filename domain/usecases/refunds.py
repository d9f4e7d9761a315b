"""Refunds: always to the original payment method, through the original gateway.

A refund the gateway cannot take right now (unreachable, soft failure) stays PENDING and is
retried from the durable schedule; it is never lost and never silently dropped.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from domain.audit import AuditAction
from domain.commands import RefundPayment
from domain.enums import RefundStatus, TransactionStatus, TransactionType
from domain.errors import GatewayUnavailable
from domain.gateway import GatewayOperationRequest, GatewayOutcome, PaymentGateway
from domain.pagination import Page, PageRequest
from domain.payment import Payment
from domain.ports import UnitOfWork
from domain.refund import Refund
from domain.retry import RetryOperation, is_soft
from domain.transaction import Transaction
from domain.usecases.deps import Deps, validate
from domain.usecases.gateway_step import GatewayOperation, run_gateway_step
from domain.usecases.payments import validate_id
from domain.usecases.retries import schedule_retry


async def settle_refund(
    uow: UnitOfWork, txn: Transaction, now: datetime, deps: Deps | None = None, attempt: int = 1
) -> Refund:
    """Bring the Refund record in line with its REFUND transaction's outcome (returned). A
    soft failure keeps the refund PENDING when a retry can be scheduled (`deps` given)."""
    assert txn.refund_id is not None
    refund = await uow.refunds.get(txn.refund_id)
    if txn.status is TransactionStatus.SUCCEEDED:
        refund.mark_processed(txn.gateway_transaction_id, now, txn.settlement_amount)
    elif txn.status is TransactionStatus.FAILED:
        soft = is_soft(txn.failure_code)
        if (
            soft
            and deps is not None
            and await schedule_retry(
                uow,
                deps,
                payment_id=txn.payment_id,
                operation=RetryOperation.REFUND,
                target_id=refund.id,
                attempt=attempt,
                failure=txn.failure_code,
            )
        ):
            return refund  # stays PENDING: the retry worker takes it from here
        refund.mark_failed(txn.failure_code or "REFUND_FAILED", txn.failure_reason or "", now)
    else:
        return refund  # outcome unknown: stays PENDING until reconciled
    await uow.refunds.save(refund)
    uow.describe(refund, AuditAction.REFUND_STATUS)
    return refund


def _refund_request(payment: Payment, txn: Transaction) -> GatewayOperationRequest:
    assert payment.gateway_payment_id is not None
    capture = next(
        (
            t
            for t in payment.transactions
            if t.type is TransactionType.CAPTURE and t.status is TransactionStatus.SUCCEEDED
        ),
        None,
    )
    return GatewayOperationRequest(
        txn.idempotency_key,
        payment.gateway_payment_id,
        txn.amount,
        capture_reference=capture.gateway_transaction_id if capture else None,
    )


class RefundOperation(GatewayOperation):
    """One attempt at refunding through the gateway. The first attempt (`request` given)
    creates the Refund record with the intent; a retry points the record at its new
    operation. The Refund follows the operation's end in the same transaction."""

    action = AuditAction.PAYMENT_REFUND

    def __init__(
        self,
        deps: Deps,
        *,
        refund_id: str | None,
        amount_minor: int | None,
        request: RefundPayment | None,
        attempt: int,
    ) -> None:
        self._deps = deps
        # A new refund's id is made with its operation, in the transaction that claims the
        # request's key (RequestIds: the same request sent again makes the same ids).
        self.refund_id = refund_id
        self._amount_minor = amount_minor
        self._request = request
        self._attempt = attempt
        self.refund: Refund | None = None  # as the operation left it

    def begin(self, payment: Payment, transaction_id: str) -> Transaction:
        if self.refund_id is None:
            self.refund_id = self._deps.ids.new_id()
        return payment.begin_refund(
            transaction_id=transaction_id,
            refund_id=self.refund_id,
            now=self._deps.clock.now(),
            amount_minor=self._amount_minor,
        )

    async def began(self, uow: UnitOfWork, payment: Payment, txn: Transaction) -> None:
        assert txn.refund_id is not None  # begin_refund names it
        if self._request is None:
            refund = await uow.refunds.get(txn.refund_id)
            refund.transaction_id = txn.id
            await uow.refunds.save(refund)
            return
        now = self._deps.clock.now()
        await uow.refunds.add(
            Refund(
                id=txn.refund_id,
                payment_id=payment.id,
                transaction_id=txn.id,
                amount=txn.amount,
                reason=self._request.reason,
                requested_by=self._request.requested_by,
                requested_at=now,
                created_at=now,
            )
        )

    async def call(
        self, gateway: PaymentGateway, payment: Payment, txn: Transaction
    ) -> GatewayOutcome:
        return await gateway.refund(_refund_request(payment, txn))

    def record(self, payment: Payment, txn: Transaction, outcome: GatewayOutcome) -> None:
        payment.record_refund(txn.id, outcome, self._deps.clock.now(), self._deps.ids.new_id())

    async def recorded(self, uow: UnitOfWork, payment: Payment, txn: Transaction) -> None:
        self.refund = await settle_refund(
            uow, txn, self._deps.clock.now(), self._deps, self._attempt
        )

    def resumed(self, payment: Payment, txn: Transaction) -> None:
        self.refund_id = txn.refund_id

    def result(self, payment: Payment, txn: Transaction) -> object | None:
        # A declined refund is an answer like any other (FAILED, with its code), not an error.
        return (self.refund, payment)


async def refund_payment(cmd: RefundPayment, deps: Deps) -> tuple[Refund, Payment]:
    validate(cmd)
    operation = RefundOperation(
        deps, refund_id=None, amount_minor=cmd.amount_minor, request=cmd, attempt=1
    )
    try:
        payment = await run_gateway_step(deps, cmd.payment_id, operation)
    except GatewayUnavailable:
        refund, payment = await _read(deps, operation.refund_id, cmd.payment_id)
        if refund.status is not RefundStatus.PENDING:
            raise
        return refund, payment  # accepted: it will be sent when the gateway is back
    if operation.refund is None:  # the request was sent again: its refund was settled before
        refund, payment = await _read(deps, operation.refund_id, cmd.payment_id)
        return refund, payment
    # A declined refund is returned as FAILED with its code rather than raised: the refund
    # exists and the caller tracks it like any other.
    return operation.refund, payment


async def _read(deps: Deps, refund_id: str | None, payment_id: str) -> tuple[Refund, Payment]:
    assert refund_id is not None, "the operation began, so it has its refund"
    async with deps.uow as uow:
        return await uow.refunds.get(refund_id), await uow.payments.get(payment_id)


async def retry_refund(payment_id: str, refund_id: str, attempt: int, deps: Deps) -> Refund:
    """Send a PENDING refund again (from the retry schedule)."""
    async with deps.uow as uow:
        refund = await uow.refunds.get(refund_id)
    if refund.status is not RefundStatus.PENDING:
        return refund
    operation = RefundOperation(
        deps,
        refund_id=refund_id,
        amount_minor=refund.amount.amount_minor,
        request=None,
        attempt=attempt,
    )
    # Unreachable again: settle_refund rescheduled it, or failed it for good.
    with contextlib.suppress(GatewayUnavailable):
        await run_gateway_step(deps, payment_id, operation)
    async with deps.uow as uow:
        return await uow.refunds.get(refund_id)


async def get_refund(refund_id: str, deps: Deps) -> Refund:
    validate_id("refund_id", refund_id)
    async with deps.uow as uow:
        return await uow.refunds.get(refund_id)


async def list_refunds(
    payment_id: str, page_size: int, page_token: str, deps: Deps
) -> Page[Refund]:
    validate_id("payment_id", payment_id)
    page = PageRequest.parse(page_size, page_token)
    async with deps.uow as uow:
        await uow.payments.get(payment_id)  # NOT_FOUND for an unknown payment
        return await uow.refunds.list_for_payment(payment_id, page)
