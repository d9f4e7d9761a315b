"""Gateway-reported facts (webhooks): at most once per event, monotonic, order-tolerant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.commands import AuthorizePayment, CapturePayment, RefundPayment
from domain.dispute import DisputeStatus
from domain.enums import GatewayName, NextActionType, PaymentStatus, RefundStatus
from domain.gateway import BankTransferInstructions, GatewayOutcome, NextAction, OutcomeStatus
from domain.money import Money
from domain.payment import Payment
from domain.usecases.operations import authorize_payment, capture_payment
from domain.usecases.refunds import refund_payment
from domain.usecases.webhooks import apply_gateway_event
from domain.webhooks import DisputeFact, GatewayEvent, GatewayEventKind, RefundFact
from tests.unit.fakes import FakePorts, requires_action
from tests.unit.test_usecases import created

K = GatewayEventKind
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def event(payment: Payment, kind: GatewayEventKind, event_id: str, **fields: Any) -> GatewayEvent:
    return GatewayEvent(
        gateway=GatewayName.STRIPE,
        event_id=event_id,
        type=f"test.{kind.value.lower()}",
        kind=kind,
        occurred_at=WHEN,
        gateway_payment_id=payment.gateway_payment_id,
        **fields,
    )


async def authorized(ports: FakePorts) -> Payment:
    payment = await created(ports)
    return await authorize_payment(AuthorizePayment(payment.id), ports.deps)


def stored(ports: FakePorts, payment: Payment) -> Payment:
    return ports.uow.committed_payment(payment.id)


async def test_captured_report_captures_an_authorized_payment_with_the_api_event(
    ports: FakePorts,
) -> None:
    payment = await authorized(ports)
    result = await apply_gateway_event(
        event(payment, K.CAPTURED, "evt_1", amount_minor=10_000, reference="ch_1"), ports.deps
    )
    assert result.processed and result.payment_id == payment.id
    after = stored(ports, payment)
    assert after.status is PaymentStatus.CAPTURED and after.amounts.captured.amount_minor == 10_000
    assert ports.uow.event_types() == ["payment.authorized", "payment.successful"]
    assert ports.gateway.calls[-1].operation == "authorize"  # the gateway was not called again


async def test_a_redelivered_event_changes_nothing(ports: FakePorts) -> None:
    payment = await authorized(ports)
    first = event(payment, K.CAPTURED, "evt_1", amount_minor=10_000)
    assert (await apply_gateway_event(first, ports.deps)).processed
    version = stored(ports, payment).version
    again = await apply_gateway_event(first, ports.deps)
    assert not again.processed
    assert stored(ports, payment).version == version
    assert ports.uow.event_types().count("payment.successful") == 1


async def test_a_late_success_after_a_refund_does_not_move_backwards(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await capture_payment(CapturePayment(payment.id), ports.deps)
    await refund_payment(RefundPayment(payment.id, None, "customer asked", "ops"), ports.deps)
    assert stored(ports, payment).status is PaymentStatus.REFUNDED
    result = await apply_gateway_event(event(payment, K.CAPTURED, "evt_late"), ports.deps)
    assert result.processed  # acknowledged and recorded ...
    after = stored(ports, payment)
    assert after.status is PaymentStatus.REFUNDED  # ... but not applied
    assert "evt_late" in "".join(ports.uow.db.webhook_events)


async def test_out_of_order_failure_after_capture_is_ignored(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_2"), ports.deps)
    await apply_gateway_event(event(payment, K.FAILED, "evt_1"), ports.deps)
    await apply_gateway_event(event(payment, K.CANCELLED, "evt_0"), ports.deps)
    assert stored(ports, payment).status is PaymentStatus.CAPTURED


async def test_refunds_apply_once_per_gateway_refund_id(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_c"), ports.deps)
    partial = (RefundFact("re_1", 2_500),)
    await apply_gateway_event(event(payment, K.REFUNDED, "evt_r1", refunds=partial), ports.deps)
    # Another event listing the same refund and a new one: only the new one is added.
    both = (RefundFact("re_1", 2_500), RefundFact("re_2", 7_500))
    await apply_gateway_event(event(payment, K.REFUNDED, "evt_r2", refunds=both), ports.deps)
    after = stored(ports, payment)
    assert after.status is PaymentStatus.REFUNDED and after.amounts.refunded.amount_minor == 10_000
    refunds = list(ports.uow.db.refunds.values())
    assert sorted(r.gateway_refund_id or "" for r in refunds) == ["re_1", "re_2"]
    assert all(r.status is RefundStatus.PROCESSED for r in refunds)
    assert ports.uow.event_types().count("payment.refunded") == 2


async def test_a_report_while_an_api_operation_is_open_is_left_to_that_operation(
    ports: FakePorts,
) -> None:
    payment = await authorized(ports)
    async with ports.uow as uow:
        locked = await uow.payments.get(payment.id)
        locked.begin_capture(transaction_id=ports.ids.new_id(), now=WHEN)
        await uow.payments.save(locked)
        await uow.commit()
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_1"), ports.deps)
    assert stored(ports, payment).status is PaymentStatus.AUTHORIZED


async def test_failure_and_requires_action_reports(ports: FakePorts) -> None:
    payment = await created(ports)
    async with ports.uow as uow:
        locked = await uow.payments.get(payment.id)
        locked.gateway_payment_id = "pi_report"
        await uow.payments.save(locked)
        await uow.commit()
    payment = stored(ports, payment)
    url = "https://hooks.stripe.com/3ds"
    await apply_gateway_event(
        event(payment, K.REQUIRES_ACTION, "e1", next_action_url=url), ports.deps
    )
    assert stored(ports, payment).status is PaymentStatus.REQUIRES_ACTION
    assert stored(ports, payment).next_action is not None
    failed = event(payment, K.FAILED, "e2", failure_code="INSUFFICIENT_FUNDS")
    await apply_gateway_event(failed, ports.deps)
    after = stored(ports, payment)
    assert after.status is PaymentStatus.FAILED and after.failure_code == "INSUFFICIENT_FUNDS"
    assert ports.uow.event_types() == ["payment.requires_action", "payment.failed"]


async def test_unknown_payment_and_unknown_type_are_recorded(ports: FakePorts) -> None:
    payment = await authorized(ports)
    other = GatewayEvent(
        GatewayName.PAYPAL,
        "WH-1",
        "SOMETHING.NEW",
        K.INFORMATIONAL,
        WHEN,
        gateway_payment_id="ORDER-UNKNOWN",
    )
    result = await apply_gateway_event(other, ports.deps)
    assert result.processed and result.payment_id is None
    info = await apply_gateway_event(event(payment, K.INFORMATIONAL, "evt_x"), ports.deps)
    assert info.payment_id == payment.id
    assert set(ports.uow.db.webhook_events) == {"PAYPAL/WH-1", "STRIPE/evt_x"}
    assert stored(ports, payment).status is PaymentStatus.AUTHORIZED


async def test_dispute_opened_then_closed(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_c"), ports.deps)
    fact = DisputeFact("dp_1", 10_000, "EUR", "fraudulent", "needs_response")
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e1", dispute=fact), ports.deps)
    [dispute] = ports.uow.db.disputes.values()
    assert dispute.status is DisputeStatus.OPENED and dispute.payment_id == payment.id
    lost = DisputeFact("dp_1", 10_000, "EUR", "fraudulent", "lost")
    await apply_gateway_event(event(payment, K.DISPUTE_CLOSED, "e2", dispute=lost), ports.deps)
    # A late "created" redelivered under a new event id does not reopen it.
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e3", dispute=fact), ports.deps)
    [dispute] = ports.uow.db.disputes.values()
    assert dispute.status is DisputeStatus.LOST and dispute.closed_at is not None


async def test_disputes_show_on_the_payment_and_a_lost_one_lowers_its_net_amount(
    ports: FakePorts,
) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_c"), ports.deps)
    opened = DisputeFact("dp_1", 4_000, "EUR", "fraudulent", "needs_response")
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e1", dispute=opened), ports.deps)
    shown = stored(ports, payment)
    assert shown.disputes is not None and shown.disputes.status is DisputeStatus.OPENED
    assert shown.disputes.disputed == Money(4_000, "EUR")
    assert shown.net_amount == Money(10_000, "EUR")  # open: nothing taken yet
    other = DisputeFact("dp_2", 1_000, "EUR", "duplicate", "needs_response")
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e2", dispute=other), ports.deps)
    lost = DisputeFact("dp_1", 4_000, "EUR", "fraudulent", "lost")
    await apply_gateway_event(event(payment, K.DISPUTE_CLOSED, "e3", dispute=lost), ports.deps)
    shown = stored(ports, payment)
    assert shown.disputes is not None
    assert shown.disputes.status is DisputeStatus.OPENED  # dp_2 is still open
    assert (shown.disputes.disputed, shown.disputes.lost) == (
        Money(5_000, "EUR"),
        Money(4_000, "EUR"),
    )
    assert shown.net_amount == Money(6_000, "EUR")
    won = DisputeFact("dp_2", 1_000, "EUR", "duplicate", "won")
    await apply_gateway_event(event(payment, K.DISPUTE_CLOSED, "e4", dispute=won), ports.deps)
    shown = stored(ports, payment)
    assert shown.disputes is not None and shown.disputes.status is DisputeStatus.WON
    assert shown.net_amount == Money(6_000, "EUR")


async def test_disputes_publish_opened_and_closed_once_each(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_c"), ports.deps)
    before = len(ports.uow.event_types())
    fact = DisputeFact("dp_1", 2_500, "EUR", "fraudulent", "needs_response")
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e1", dispute=fact), ports.deps)
    # A second "created" for the same dispute (new event id) publishes nothing more.
    await apply_gateway_event(event(payment, K.DISPUTE_OPENED, "e2", dispute=fact), ports.deps)
    lost = DisputeFact("dp_1", 2_500, "EUR", "fraudulent", "lost")
    for event_id in ("e3", "e4"):  # closed twice: published once
        await apply_gateway_event(
            event(payment, K.DISPUTE_CLOSED, event_id, dispute=lost), ports.deps
        )
    assert ports.uow.event_types()[before:] == ["payment.disputed", "payment.dispute_closed"]


async def test_a_dispute_first_reported_closed_publishes_both_events(ports: FakePorts) -> None:
    payment = await authorized(ports)
    await apply_gateway_event(event(payment, K.CAPTURED, "evt_c"), ports.deps)
    before = len(ports.uow.event_types())
    won = DisputeFact("dp_1", 2_500, "EUR", "fraudulent", "won")
    await apply_gateway_event(event(payment, K.DISPUTE_CLOSED, "e1", dispute=won), ports.deps)
    assert ports.uow.event_types()[before:] == ["payment.disputed", "payment.dispute_closed"]
    shown = stored(ports, payment)
    assert shown.disputes is not None and shown.disputes.status is DisputeStatus.WON


async def test_a_capture_reported_while_waiting_authorizes_and_captures_with_two_event_ids(
    ports: FakePorts,
) -> None:
    # A bank transfer waits for the customer's transfer; Stripe reports it paid (captured).
    ports.gateway.will("authorize", requires_action())
    payment = await authorized(ports)
    assert stored(ports, payment).status is PaymentStatus.REQUIRES_ACTION
    await apply_gateway_event(
        event(payment, K.CAPTURED, "evt_paid", amount_minor=10_000), ports.deps
    )
    after = stored(ports, payment)
    assert after.status is PaymentStatus.CAPTURED and after.amounts.captured.amount_minor == 10_000
    assert ports.uow.event_types()[-2:] == ["payment.authorized", "payment.successful"]
    ids = [e.event_id for e in ports.uow.db.outbox]
    assert len(ids) == len(set(ids))  # the outbox's key: each event its own id


def _instructions(remaining: int) -> NextAction:
    return NextAction(
        NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS,
        "https://payments.example/instructions/1",
        BankTransferInstructions("eu_bank_transfer", "REF1", Money(remaining, "EUR")),
    )


async def test_a_partly_paid_transfer_shows_what_is_left_and_waits_on(ports: FakePorts) -> None:
    ports.gateway.will("authorize", GatewayOutcome(
        OutcomeStatus.REQUIRES_ACTION, "pi_bt", next_action=_instructions(10_000)))  # fmt: skip
    payment = await authorized(ports)
    events_before = len(ports.uow.event_types())
    partly = event(payment, K.REQUIRES_ACTION, "evt_partly", next_action=_instructions(4_000))
    assert (await apply_gateway_event(partly, ports.deps)).processed
    after = stored(ports, payment)
    assert after.status is PaymentStatus.REQUIRES_ACTION
    assert after.next_action == _instructions(4_000)
    assert len(ports.uow.event_types()) == events_before  # no payment event: nothing happened


async def test_a_redirect_is_never_replaced_by_instructions(ports: FakePorts) -> None:
    ports.gateway.will("authorize", requires_action())
    payment = await authorized(ports)
    stray = event(payment, K.REQUIRES_ACTION, "evt_stray", next_action=_instructions(1))
    await apply_gateway_event(stray, ports.deps)
    action = stored(ports, payment).next_action
    assert action is not None and action.type is NextActionType.REDIRECT_TO_URL
