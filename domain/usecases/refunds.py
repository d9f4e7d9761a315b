"""Refunds: always to the original payment method, through the original gateway."""

from __future__ import annotations

from datetime import datetime

from domain.commands import RefundPayment
from domain.enums import TransactionStatus
from domain.gateway import GatewayOperationRequest, GatewayOutcome, PaymentGateway
from domain.pagination import Page, PageRequest
from domain.payment import Payment
from domain.ports import UnitOfWork
from domain.refund import Refund
from domain.transaction import Transaction
from domain.usecases.deps import Deps, validate
from domain.usecases.gateway_step import GatewayStep, run_gateway_step
from domain.usecases.payments import validate_id


async def settle_refund(uow: UnitOfWork, txn: Transaction, now: datetime) -> None:
    """Bring the Refund record in line with its REFUND transaction's outcome."""
    assert txn.refund_id is not None
    refund = await uow.refunds.get(txn.refund_id)
    if txn.status is TransactionStatus.SUCCEEDED:
        refund.mark_processed(txn.gateway_transaction_id, now)
    elif txn.status is TransactionStatus.FAILED:
        refund.mark_failed(txn.failure_code or "REFUND_FAILED", txn.failure_reason or "", now)
    else:
        return  # outcome unknown: stays PENDING until reconciled
    await uow.refunds.save(refund)


async def refund_payment(cmd: RefundPayment, deps: Deps) -> tuple[Refund, Payment]:
    validate(cmd)
    refund_id = deps.ids.new_id()

    async def add_refund(deps: Deps, payment: Payment, txn: Transaction) -> None:
        now = deps.clock.now()
        await deps.uow.refunds.add(
            Refund(
                id=refund_id,
                payment_id=payment.id,
                transaction_id=txn.id,
                amount=txn.amount,
                reason=cmd.reason,
                requested_by=cmd.requested_by,
                requested_at=now,
                created_at=now,
            )
        )

    async def settle(deps: Deps, payment: Payment, txn: Transaction) -> None:
        await settle_refund(deps.uow, txn, deps.clock.now())

    async def call(gateway: PaymentGateway, payment: Payment, txn: Transaction) -> GatewayOutcome:
        assert payment.gateway_payment_id is not None
        return await gateway.refund(
            GatewayOperationRequest(txn.idempotency_key, payment.gateway_payment_id, txn.amount)
        )

    step = GatewayStep(
        begin=lambda p: p.begin_refund(
            transaction_id=deps.ids.new_id(),
            refund_id=refund_id,
            now=deps.clock.now(),
            amount_minor=cmd.amount_minor,
        ),
        call=call,
        record=lambda p, t, o: p.record_refund(t.id, o, deps.clock.now(), deps.ids.new_id()),
        on_begin=add_refund,
        on_record=settle,
    )
    payment = await run_gateway_step(deps, cmd.payment_id, step)
    # A declined refund is returned as FAILED with its code rather than raised: the refund
    # exists and the caller tracks it like any other.
    async with deps.uow as uow:
        refund = await uow.refunds.get(refund_id)
    return refund, payment


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
