"""Consuming the order service's events: order.confirmed pays the order with the user's
default saved method, order.cancelled voids or refunds what was paid.

Exactly-once effect with at-least-once delivery:
- every step is idempotent on its own: one payment per order (PaymentAlreadyExists on a
  redelivery, and the existing payment is resumed where it stopped), a cancellation or refund
  only when the payment's state still calls for one;
- the inbox (`consumed_events`) records the event id once its effect is committed, so a later
  redelivery is skipped without touching the payment. The row is written after the effect, in
  its own transaction (the existing use cases commit their own transactions); a crash between
  the two only means the next delivery goes through the idempotent steps again.
The consumer commits the Kafka offset only after these functions return.

Out of order: an order.cancelled that finds no payment leaves a tombstone (cancelled_orders),
and an order.confirmed for a cancelled order pays nothing. Both events of one order carry
the order id as their key, so they sit on one partition and are handled one after the other:
the check and the payment creation never race with the cancellation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain import validation as v
from domain.actor import Actor, ActorKind
from domain.audit import AuditAction, AuditOutcome, ResourceType
from domain.commands import (
    AuthorizePayment,
    CancelPayment,
    CapturePayment,
    CreatePayment,
    RefundPayment,
)
from domain.enums import PaymentStatus
from domain.errors import (
    GatewayUnavailable,
    InvalidOrderEvent,
    PaymentAlreadyExists,
    PaymentDeclined,
)
from domain.events import PaymentFailed
from domain.money import Money
from domain.payment import Payment
from domain.usecases.deps import Deps
from domain.usecases.operations import (
    authorize_payment,
    cancel_payment,
    capture_payment,
    create_and_authorize,
)
from domain.usecases.refunds import refund_payment

ORDER_CONFIRMED = "order.confirmed"
ORDER_CANCELLED = "order.cancelled"
NO_DEFAULT_PAYMENT_METHOD = "NO_DEFAULT_PAYMENT_METHOD"
CANCEL_REASON = "order cancelled"
_CANCELLABLE = {
    PaymentStatus.PENDING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.UNDER_REVIEW,
    PaymentStatus.AUTHORIZED,
}
_REFUNDABLE = {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}


@dataclass(frozen=True, slots=True)
class OrderConfirmed:
    event_id: str
    order_id: str
    user_id: str
    total: Money


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    event_id: str
    order_id: str


def _text(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidOrderEvent(f"{name} is required and must be a string")
    return value


def _uuid(event: Mapping[str, Any], name: str) -> str:
    value = _text(event, name)
    if v.require_uuid(name, value):
        raise InvalidOrderEvent(f"{name} must be a UUID")
    return value


def _decimal(value: Any) -> Decimal:
    # A float has already lost exactness: the consumer parses JSON numbers as Decimal.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidOrderEvent("total must be a decimal number")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise InvalidOrderEvent("total must be a decimal number") from exc


def consumer_actor(event_id: str, topic: str) -> Actor:
    """The order service's events are acted on by the service itself; the event id stands
    for the request id in the audit trail."""
    return Actor(ActorKind.SYSTEM, "order-events-consumer", request_id=event_id, origin=topic)


def parse_order_confirmed(event: Mapping[str, Any], deps: Deps) -> OrderConfirmed:
    """Raises InvalidOrderEvent for an event that can never be processed."""
    currency = _text(event, "currency")
    exponent = deps.currencies.exponent(currency)
    if exponent is None:
        raise InvalidOrderEvent(f"currency {currency!r} is not supported")
    try:
        total = Money.from_decimal(_decimal(event.get("total")), currency, exponent)
    except ValueError as exc:  # more decimals than the currency has, too large
        raise InvalidOrderEvent(f"total: {exc}") from exc
    if not total.is_positive:
        raise InvalidOrderEvent("total must be positive")
    return OrderConfirmed(
        event_id=_text(event, "eventId"),
        order_id=_uuid(event, "orderId"),
        user_id=_uuid(event, "userId"),
        total=total,
    )


def parse_order_cancelled(event: Mapping[str, Any]) -> OrderCancelled:
    return OrderCancelled(event_id=_text(event, "eventId"), order_id=_uuid(event, "orderId"))


async def _already_consumed(deps: Deps, event_id: str) -> bool:
    async with deps.uow as uow:
        return await uow.consumed_events.seen(event_id)


async def _mark_consumed(deps: Deps, event_id: str, topic: str) -> None:
    async with deps.uow as uow:
        await uow.consumed_events.record(event_id, topic, deps.clock.now())
        await uow.commit()


async def _fail_without_method(deps: Deps, order: OrderConfirmed, topic: str) -> None:
    """payment.failed for the order, with the inbox row in the same transaction. No payment
    exists: the event carries a fresh payment id of its own."""
    now = deps.clock.now()
    failed = PaymentFailed(
        event_id=deps.ids.new_id(),
        payment_id=deps.ids.new_id(),
        order_id=order.order_id,
        occurred_at=now,
        reason="the user has no default saved payment method",
        failure_code=NO_DEFAULT_PAYMENT_METHOD,
        retry_attempt=0,
    )
    async with deps.uow as uow:
        if await uow.consumed_events.record(order.event_id, topic, now):
            uow.fact(
                AuditAction.PAYMENT_CREATE,
                ResourceType.ORDER,
                order.order_id,
                outcome=AuditOutcome.FAILURE,
                reason=NO_DEFAULT_PAYMENT_METHOD,
                after={
                    "user_id": order.user_id,
                    "amount_minor": order.total.amount_minor,
                    "currency": order.total.currency,
                },
                events=[failed],
            )
        await uow.commit()


async def _cancelled_before(deps: Deps, order: OrderConfirmed, topic: str) -> bool:
    """True when the order's order.cancelled was consumed before this order.confirmed (the
    two arrived out of order): nothing is charged and the event is consumed."""
    async with deps.uow as uow:
        if not await uow.consumed_events.is_order_cancelled(order.order_id):
            return False
        await uow.consumed_events.record(order.event_id, topic, deps.clock.now())
        await uow.commit()
    return True


async def _existing(deps: Deps, order_id: str) -> Payment | None:
    async with deps.uow as uow:
        return await uow.payments.find_by_order(order_id)


async def _advance(payment: Payment, deps: Deps, auto_capture: bool) -> Payment:
    """Resume a payment created for the order: authorize it if that never started, capture
    it when asked to. A decline is a final outcome (the payment is FAILED, its event out)."""
    try:
        if payment.status is PaymentStatus.PENDING and not payment.transactions:
            payment = await authorize_payment(AuthorizePayment(payment.id), deps)
        if auto_capture and payment.status is PaymentStatus.AUTHORIZED:
            payment = await capture_payment(CapturePayment(payment.id), deps)
    except PaymentDeclined:
        async with deps.uow as uow:
            payment = await uow.payments.get(payment.id)
    return payment


async def handle_order_confirmed(
    event: Mapping[str, Any], deps: Deps, auto_capture: bool, *, topic: str = "order.events"
) -> Payment | None:
    """Creates and authorizes (and with `auto_capture` captures) the order's payment with the
    user's default method. None when the event was consumed before or the user has no
    default method (then a payment.failed NO_DEFAULT_PAYMENT_METHOD is published).
    Raises InvalidOrderEvent (poison), StorageUnavailable and GatewayUnavailable (transient:
    deliver again)."""
    order = parse_order_confirmed(event, deps)
    return await _pay_order(order, deps, auto_capture, topic)


async def _pay_order(
    order: OrderConfirmed, deps: Deps, auto_capture: bool, topic: str
) -> Payment | None:
    if await _already_consumed(deps, order.event_id):
        return None
    payment = await _existing(deps, order.order_id)
    if payment is None:
        if await _cancelled_before(deps, order, topic):
            return None
        async with deps.uow as uow:
            method = await uow.payment_methods.default_for_user(order.user_id)
        if method is None:
            await _fail_without_method(deps, order, topic)
            return None
        command = CreatePayment(
            order_id=order.order_id,
            user_id=order.user_id,
            amount_minor=order.total.amount_minor,
            currency=order.total.currency,
            payment_method_type=None,
            payment_method_id=method.id,
            authorize=True,
            # However late the authorization succeeds (3-D Secure, a retry, a fraud review),
            # the order's money is then captured.
            capture_on_authorization=auto_capture,
        )
        try:
            payment = await create_and_authorize(command, deps)
        except PaymentAlreadyExists:  # a concurrent delivery created it first
            payment = await _existing(deps, order.order_id)
        except (PaymentDeclined, GatewayUnavailable) as error:
            # The payment exists: FAILED (a decline, or FraudSuspected: the fraud checks
            # refused it), or PENDING with an automatic retry scheduled (the retry worker owns
            # it now). A payment held for review comes back UNDER_REVIEW, not as an error.
            if "payment_id" not in error.metadata:
                raise
            async with deps.uow as uow:
                payment = await uow.payments.get(error.metadata["payment_id"])
    assert payment is not None
    payment = await _advance(payment, deps, auto_capture)
    await _mark_consumed(deps, order.event_id, topic)
    return payment


async def handle_order_cancelled(
    event: Mapping[str, Any], deps: Deps, *, topic: str = "order.events"
) -> Payment | None:
    """Voids an authorized (or not yet authorized) payment of the order, refunds what was
    captured. None when there is nothing to do or the event was consumed before."""
    order = parse_order_cancelled(event)
    return await _cancel_order(order, deps, topic)


async def _cancel_order(order: OrderCancelled, deps: Deps, topic: str) -> Payment | None:
    if await _already_consumed(deps, order.event_id):
        return None
    payment = await _existing(deps, order.order_id)
    if payment is None:
        # Cancelled before it was paid, or before its order.confirmed arrived: remembered, so
        # that a late order.confirmed takes no money. Same transaction as the inbox row.
        async with deps.uow as uow:
            now = deps.clock.now()
            await uow.consumed_events.record_cancelled_order(order.order_id, now)
            await uow.consumed_events.record(order.event_id, topic, now)
            uow.fact(
                AuditAction.ORDER_CANCEL,
                ResourceType.ORDER,
                order.order_id,
                after={"cancelled_before_payment": True},
            )
            await uow.commit()
        return None
    if payment.status in _CANCELLABLE:  # an unfinished operation raises OperationInProgress
        payment = await cancel_payment(CancelPayment(payment.id, reason=CANCEL_REASON), deps)
    elif payment.status in _REFUNDABLE and payment.refundable.is_positive:
        _, payment = await refund_payment(
            RefundPayment(payment.id, reason=CANCEL_REASON, requested_by=ORDER_CANCELLED),
            deps,
        )
    await _mark_consumed(deps, order.event_id, topic)
    return payment
