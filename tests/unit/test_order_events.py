"""The order events use cases (order.confirmed, order.cancelled) against the fakes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.commands import AddPaymentMethod, ConfirmPayment
from domain.enums import PaymentMethodType, PaymentStatus
from domain.errors import InvalidOrderEvent
from domain.events import PaymentFailed
from domain.payment import Payment
from domain.usecases.operations import confirm_payment
from domain.usecases.order_events import (
    NO_DEFAULT_PAYMENT_METHOD,
    handle_order_cancelled,
    handle_order_confirmed,
)
from domain.usecases.payment_methods import add_payment_method
from tests.unit.fakes import FakePorts, order_id, requires_action, user_id

EVENT_ID = "evt-order-1"


def confirmed(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": EVENT_ID,
        "orderId": order_id(7),
        "userId": user_id(7),
        "total": Decimal("10.99"),
        "currency": "EUR",
        "timestamp": "2026-01-02T03:04:05Z",
    }
    return event | changes


async def with_default_method(ports: FakePorts) -> None:
    await add_payment_method(
        AddPaymentMethod(user_id(7), PaymentMethodType.CREDIT_CARD, "pm_card_visa"), ports.deps
    )


def payments(ports: FakePorts) -> list[Payment]:
    return list(ports.uow.db.payments.values())


async def test_confirmed_creates_and_authorizes_with_the_default_method(
    ports: FakePorts,
) -> None:
    await with_default_method(ports)
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    assert payment is not None
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.amount.amount_minor == 1099
    assert payment.order_id == order_id(7)
    assert EVENT_ID in ports.uow.db.consumed_events
    assert [e.event_type for e in ports.uow.db.outbox] == ["payment.authorized"]


async def test_confirmed_with_auto_capture_captures(ports: FakePorts) -> None:
    await with_default_method(ports)
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=True)
    assert payment is not None
    assert payment.status is PaymentStatus.CAPTURED


async def test_auto_capture_follows_a_late_authorization(ports: FakePorts) -> None:
    """3-D Secure first: the order's payment waits for the customer, and is captured as soon
    as the confirmation authorizes it (and never captured twice)."""
    await with_default_method(ports)
    ports.gateway.will("authorize", requires_action())
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=True)
    assert payment is not None and payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.capture_on_authorization
    confirmed_payment = await confirm_payment(ConfirmPayment(payment.id), ports.deps)
    assert confirmed_payment.status is PaymentStatus.CAPTURED
    assert len(ports.gateway.calls_to("capture")) == 1


async def test_without_auto_capture_a_late_authorization_is_not_captured(
    ports: FakePorts,
) -> None:
    await with_default_method(ports)
    ports.gateway.will("authorize", requires_action())
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    assert payment is not None and not payment.capture_on_authorization
    confirmed_payment = await confirm_payment(ConfirmPayment(payment.id), ports.deps)
    assert confirmed_payment.status is PaymentStatus.AUTHORIZED
    assert ports.gateway.calls_to("capture") == []


async def test_the_same_event_three_times_makes_one_payment(ports: FakePorts) -> None:
    await with_default_method(ports)
    for _ in range(3):
        await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    assert len(payments(ports)) == 1
    assert len(ports.gateway.calls_to("authorize")) == 1


async def test_a_redelivery_before_the_inbox_row_resumes_without_a_second_payment(
    ports: FakePorts,
) -> None:
    await with_default_method(ports)
    await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    del ports.uow.db.consumed_events[EVENT_ID]  # as if the process died before recording it
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=True)
    assert payment is not None and payment.status is PaymentStatus.CAPTURED
    assert len(payments(ports)) == 1
    assert len(ports.gateway.calls_to("authorize")) == 1


async def test_no_default_method_publishes_payment_failed(ports: FakePorts) -> None:
    assert await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False) is None
    [event] = ports.uow.db.outbox
    assert isinstance(event, PaymentFailed)
    assert event.failure_code == NO_DEFAULT_PAYMENT_METHOD
    assert event.order_id == order_id(7)
    assert payments(ports) == []
    # Redelivered: no second event.
    await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    assert len(ports.uow.db.outbox) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"total": Decimal("10.999")},  # more decimals than EUR has
        {"total": Decimal("1.5"), "currency": "JPY"},
        {"total": 10.99},  # a binary float: never exact
        {"total": Decimal("0")},
        {"currency": "XXX"},
        {"orderId": "not-a-uuid"},
        {"userId": None},
        {"eventId": ""},
    ],
)
async def test_malformed_confirmed_events_are_rejected(
    ports: FakePorts, changes: dict[str, Any]
) -> None:
    await with_default_method(ports)
    with pytest.raises(InvalidOrderEvent):
        await handle_order_confirmed(confirmed(**changes), ports.deps, auto_capture=False)
    assert payments(ports) == []


async def test_a_total_in_kwd_keeps_three_decimals(ports: FakePorts) -> None:
    await with_default_method(ports)
    event = confirmed(total=Decimal("1.234"), currency="KWD")
    payment = await handle_order_confirmed(event, ports.deps, auto_capture=False)
    assert payment is not None and payment.amount.amount_minor == 1234


async def test_cancelled_voids_an_authorized_payment(ports: FakePorts) -> None:
    await with_default_method(ports)
    await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    cancel = {"eventId": "evt-cancel", "orderId": order_id(7), "type": "order.cancelled"}
    payment = await handle_order_cancelled(cancel, ports.deps)
    assert payment is not None and payment.status is PaymentStatus.CANCELLED
    await handle_order_cancelled(cancel, ports.deps)  # redelivered: nothing more
    assert len(ports.gateway.calls_to("void")) == 1


async def test_cancelled_refunds_a_captured_payment(ports: FakePorts) -> None:
    await with_default_method(ports)
    await handle_order_confirmed(confirmed(), ports.deps, auto_capture=True)
    cancel = {"eventId": "evt-cancel", "orderId": order_id(7)}
    payment = await handle_order_cancelled(cancel, ports.deps)
    assert payment is not None and payment.status is PaymentStatus.REFUNDED
    del ports.uow.db.consumed_events["evt-cancel"]
    await handle_order_cancelled(cancel, ports.deps)  # nothing left to refund
    assert len(ports.gateway.calls_to("refund")) == 1


async def test_cancelled_before_confirmed_takes_no_money(ports: FakePorts) -> None:
    """Delivered out of order: the cancellation is remembered, the late confirmation (and its
    redeliveries) pays nothing, and every event is consumed."""
    await with_default_method(ports)
    cancel = {"eventId": "evt-cancel", "orderId": order_id(7)}
    assert await handle_order_cancelled(cancel, ports.deps) is None
    assert "evt-cancel" in ports.uow.db.consumed_events
    assert order_id(7) in ports.uow.db.cancelled_orders
    for _ in range(2):
        assert await handle_order_confirmed(confirmed(), ports.deps, auto_capture=True) is None
    assert payments(ports) == []
    assert ports.gateway.calls_to("authorize") == []
    assert EVENT_ID in ports.uow.db.consumed_events
    assert ports.uow.db.outbox == []


async def test_a_cancellation_of_another_order_does_not_block_this_one(ports: FakePorts) -> None:
    await with_default_method(ports)
    await handle_order_cancelled({"eventId": "evt-cancel", "orderId": order_id(8)}, ports.deps)
    payment = await handle_order_confirmed(confirmed(), ports.deps, auto_capture=False)
    assert payment is not None and payment.status is PaymentStatus.AUTHORIZED
