"""Applying what a gateway reports (webhooks): once per event id, never backwards.

The event's receipt is stored in the same transaction as its effect, under a unique key
(gateway, event id): a redelivery, even concurrent with the first delivery, finds the key
taken and changes nothing. Payment changes go through `domain.payment_reports`,
which only advance along the transition table and record the same domain events as
the API path; the events go to the outbox like any others.
"""

from __future__ import annotations

from datetime import datetime

from domain import payment_reports as reports
from domain.audit import AuditAction, ResourceType
from domain.dispute import Dispute, DisputeStatus, closing_status
from domain.money import Money
from domain.payment import Payment
from domain.payment_disputes import PaymentDisputes
from domain.ports import UnitOfWork
from domain.refund import Refund
from domain.usecases.deps import Deps
from domain.webhooks import GatewayEvent, GatewayEventKind, WebhookReceipt, WebhookResult

K = GatewayEventKind


async def _find_payment(uow: UnitOfWork, event: GatewayEvent) -> Payment | None:
    if event.gateway_payment_id:
        payment = await uow.payments.find_by_gateway_payment_id(event.gateway_payment_id)
        if payment is not None:
            return payment
    for reference in event.related_ids:
        payment = await uow.payments.find_by_gateway_transaction_id(reference)
        if payment is not None:
            return payment
    return None


def _apply_status(payment: Payment, event: GatewayEvent, deps: Deps, now: datetime) -> bool:
    """The payment-state part of the event; True when the payment changed."""
    new_id, event_id = deps.ids.new_id, deps.ids.new_id()
    if event.kind is K.AUTHORIZED:
        return reports.authorized(
            payment, reference=event.reference, now=now, transaction_id=new_id(), event_id=event_id
        )
    if event.kind is K.CAPTURED:
        return reports.captured(
            payment,
            amount_minor=event.amount_minor,
            reference=event.reference,
            now=now,
            transaction_ids=(new_id(), new_id()),
            event_ids=(event_id, new_id()),
        )
    if event.kind is K.FAILED:
        return reports.failed(
            payment,
            code=event.failure_code or "CARD_DECLINED",
            reason=event.failure_reason or "the gateway reported the payment as failed",
            now=now,
            transaction_id=new_id(),
            event_id=event_id,
        )
    if event.kind is K.REQUIRES_ACTION:
        return reports.requires_action(
            payment,
            url=event.next_action_url,
            now=now,
            transaction_id=new_id(),
            event_id=event_id,
            action=event.next_action,
        )
    if event.kind is K.CANCELLED:
        return reports.cancelled(
            payment,
            reason=event.failure_reason or "cancelled at the gateway",
            now=now,
            transaction_id=new_id(),
            event_id=event_id,
        )
    return False


async def _apply_refunds(
    uow: UnitOfWork, payment: Payment, event: GatewayEvent, deps: Deps, now: datetime
) -> bool:
    facts: list[tuple[str | None, int]] = [(f.reference, f.amount_minor) for f in event.refunds]
    if not facts and event.refunded_total_minor is not None:
        facts = [(None, event.refunded_total_minor - payment.amounts.refunded.amount_minor)]
    changed = False
    for reference, amount in facts:
        refund_id = deps.ids.new_id()
        txn = reports.refunded(
            payment,
            reference=reference,
            amount_minor=amount,
            now=now,
            transaction_id=deps.ids.new_id(),
            refund_id=refund_id,
            event_id=deps.ids.new_id(),
        )
        if txn is None:
            continue
        refund = Refund(
            id=refund_id,
            payment_id=payment.id,
            transaction_id=txn.id,
            amount=txn.amount,
            reason="refunded at the gateway",
            requested_by=f"gateway:{payment.gateway.value.lower()}",
            requested_at=now,
            created_at=now,
        )
        refund.mark_processed(reference, now, txn.settlement_amount)
        changed = True
        # The transaction row comes first: the refund references it.
        await uow.payments.save(payment)
        await uow.refunds.add(refund)
        uow.describe(refund, AuditAction.REFUND_CREATE)
    return changed


async def _apply_dispute(
    uow: UnitOfWork, payment: Payment, event: GatewayEvent, deps: Deps, now: datetime
) -> None:
    fact = event.dispute
    if fact is None:
        return
    new_id = deps.ids.new_id
    dispute = await uow.disputes.find_by_gateway_id(fact.gateway_dispute_id)
    if dispute is None:
        amount = fact.amount_minor if fact.currency == payment.currency else 0
        dispute = Dispute(
            id=new_id(),
            payment_id=payment.id,
            gateway=event.gateway,
            gateway_dispute_id=fact.gateway_dispute_id,
            amount=Money(amount, payment.currency) if amount else payment.amounts.captured,
            reason=fact.reason[:500],
            status=DisputeStatus.OPENED,
            created_at=now,
            updated_at=now,
        )
        dispute.record_opened(payment.order_id, new_id())
        if event.kind is K.DISPUTE_CLOSED:
            dispute.close(closing_status(fact.status), now, payment.order_id, new_id())
        await uow.disputes.add(dispute)
        uow.describe(dispute, AuditAction.DISPUTE_OPEN)
    elif event.kind is K.DISPUTE_CLOSED:
        if not dispute.close(closing_status(fact.status), now, payment.order_id, new_id()):
            return
        await uow.disputes.save(dispute)
        uow.describe(dispute, AuditAction.DISPUTE_CLOSE)
    else:
        return
    # The payment shows what its disputes amount to (and its net amount counts the lost ones).
    summary = PaymentDisputes.of(await uow.disputes.list_for_payment(payment.id), payment.currency)
    if payment.note_disputes(summary, now):
        await uow.payments.save(payment)


async def apply_gateway_event(event: GatewayEvent, deps: Deps) -> WebhookResult:
    now = deps.clock.now()
    async with deps.uow as uow:
        payment = await _find_payment(uow, event)
        payment_id = payment.id if payment else None
        receipt = WebhookReceipt(event.gateway, event.event_id, event.type, payment_id, now,
                                 event.payload)  # fmt: skip
        if not await uow.webhook_events.record(receipt):
            return WebhookResult(event.event_id, processed=False, payment_id=payment_id)
        if payment is not None:
            if event.kind is K.REFUNDED:
                await _apply_refunds(uow, payment, event, deps, now)
            elif event.kind in (K.DISPUTE_OPENED, K.DISPUTE_CLOSED):
                await _apply_dispute(uow, payment, event, deps, now)
            elif _apply_status(payment, event, deps, now):
                await uow.payments.save(payment)
        _record_receipt(uow, event, payment)
        await uow.commit()
    return WebhookResult(event.event_id, processed=True, payment_id=payment_id)


def _record_receipt(uow: UnitOfWork, event: GatewayEvent, payment: Payment | None) -> None:
    """One row per event applied: on its payment, with what it changed there, or on the
    event itself when no payment of ours matches it."""
    webhook = {"gateway": event.gateway.value, "event_id": event.event_id, "type": event.type}
    if payment is not None:
        uow.describe(payment, AuditAction.WEBHOOK_APPLY, extra={"webhook": webhook})
    else:
        uow.fact(
            AuditAction.WEBHOOK_APPLY,
            ResourceType.WEBHOOK_EVENT,
            f"{event.gateway.value}:{event.event_id}",
            after={"webhook": webhook},
        )
