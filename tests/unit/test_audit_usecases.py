"""Every state change the use cases make is recorded in the audit trail, in the same unit of
work, by the actor acting then; nothing is recorded for a change that did not happen."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.actor import Actor, ActorKind
from domain.audit_chain import ChainedEntry, ChainVerifier
from domain.commands import (
    AddPaymentMethod,
    AuthorizePayment,
    CancelPayment,
    CapturePayment,
    RefundPayment,
)
from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.errors import GatewayOutcomeUnknown, InvalidStateTransition, PaymentDeclined
from domain.gateway import GatewayOutcome, OutcomeStatus
from domain.usecases.operations import authorize_payment, cancel_payment, capture_payment
from domain.usecases.order_events import consumer_actor, handle_order_confirmed
from domain.usecases.payment_methods import (
    add_payment_method,
    delete_payment_method,
    set_default_payment_method,
)
from domain.usecases.reconcile import Reconciler, reconcile_operation
from domain.usecases.refunds import refund_payment
from domain.usecases.webhooks import apply_gateway_event
from domain.webhooks import GatewayEvent, GatewayEventKind
from tests.unit.fakes import FakePorts, declined, outcome_unknown, user_id
from tests.unit.test_order_events import confirmed
from tests.unit.test_usecases import ALICE, authorized, captured, created

CALLER = Actor(ActorKind.SERVICE, "checkout", frozenset({"payments:write"}), "req-42", "ipv4:1:2")


def rows(ports: FakePorts, resource_id: str | None = None) -> list[ChainedEntry]:
    return [
        r for r in ports.uow.db.audit if resource_id is None or r.entry.resource_id == resource_id
    ]


def summary(ports: FakePorts, resource_id: str) -> list[tuple[str, str, str | None]]:
    return [(r.entry.action, r.entry.outcome, r.entry.reason) for r in rows(ports, resource_id)]


def assert_chain_intact(ports: FakePorts) -> None:
    verifier = ChainVerifier()
    assert all(verifier.feed(row) is None for row in ports.uow.db.audit)
    assert verifier.count == len(ports.uow.db.audit) > 0


async def test_a_lifecycle_is_recorded_in_order_by_its_caller(ports: FakePorts) -> None:
    with ports.acting_as(CALLER):
        payment = await captured(ports)
        refund, _ = await refund_payment(RefundPayment(payment.id, amount_minor=400), ports.deps)
    assert summary(ports, payment.id) == [
        ("payment.create", "success", None),
        ("payment.authorize", "pending", None),
        ("payment.authorize", "success", None),
        ("payment.capture", "pending", None),
        ("payment.capture", "success", None),
        ("payment.refund", "pending", None),
        ("payment.refund", "success", None),
    ]
    assert summary(ports, refund.id) == [
        ("refund.create", "pending", None),
        ("refund.status", "success", None),
    ]
    for row in rows(ports):
        e = row.entry
        assert (e.actor_kind, e.actor_subject, e.request_id) == ("service", "checkout", "req-42")
    create, *_, capture_done, _, refund_done = rows(ports, payment.id)
    assert create.entry.before is None
    assert create.entry.after is not None and create.entry.after["status"] == "PENDING"
    assert create.entry.after["amount_minor"] == 10_000
    assert capture_done.entry.before == {
        "status": "AUTHORIZED",
        "captured_minor": 0,
        "captured_settlement_minor": 0,
        "transaction": {
            **capture_done.entry.after["transaction"],  # type: ignore[index]
            "status": "PENDING",
            "settlement_amount_minor": None,
        },
    }
    assert capture_done.entry.after is not None
    assert capture_done.entry.after["captured_settlement_minor"] == 10_000
    assert create.entry.after["settlement_currency"] == "EUR"
    assert create.entry.after["exchange_rate"] == "1"
    assert refund_done.entry.after is not None
    assert refund_done.entry.after["status"] == "PARTIALLY_REFUNDED"
    assert refund_done.entry.after["refunded_minor"] == 400
    assert_chain_intact(ports)


async def test_a_declined_authorization_is_a_failure_with_its_code(ports: FakePorts) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", declined("INSUFFICIENT_FUNDS"))
    with pytest.raises(PaymentDeclined):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    *_, failed = rows(ports, payment.id)
    assert (failed.entry.action, failed.entry.outcome) == ("payment.authorize", "failure")
    assert failed.entry.reason == "INSUFFICIENT_FUNDS"
    assert failed.entry.after is not None and failed.entry.after["status"] == "FAILED"


async def test_a_refused_operation_changes_nothing_and_records_nothing(ports: FakePorts) -> None:
    payment = await created(ports)
    before = len(rows(ports))
    with pytest.raises(InvalidStateTransition):
        await capture_payment(CapturePayment(payment.id), ports.deps)
    assert len(rows(ports)) == before


async def test_an_unknown_outcome_is_pending_until_the_reconciler_settles_it(
    ports: FakePorts,
) -> None:
    payment = await authorized(ports)
    ports.gateway.will("capture", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await capture_payment(CapturePayment(payment.id), ports.deps)
    txn = ports.uow.committed_payment(payment.id).transactions[-1]
    ports.gateway.will("lookup", GatewayOutcome.succeeded("ch_1"))
    await Reconciler(ports.deps_for, settle_after=timedelta(0)).run_once()
    assert summary(ports, payment.id)[-3:] == [
        ("payment.capture", "pending", None),
        ("payment.capture", "pending", "GATEWAY_OUTCOME_UNKNOWN"),
        ("payment.reconcile", "success", None),
    ]
    reconciled = rows(ports, payment.id)[-1].entry
    assert (reconciled.actor_kind, reconciled.actor_subject) == ("system", "reconciler")
    assert reconciled.after is not None
    assert reconciled.after["transaction"]["id"] == txn.id
    await reconcile_operation(payment.id, txn.id, ports.deps)  # settled: nothing more
    assert len(rows(ports, payment.id)) == 6


async def test_cancelling_without_a_gateway_call_is_one_success(ports: FakePorts) -> None:
    payment = await created(ports)
    await cancel_payment(CancelPayment(payment.id, reason="customer asked"), ports.deps)
    assert summary(ports, payment.id)[-1] == ("payment.cancel", "success", None)
    assert rows(ports, payment.id)[-1].entry.after == {"status": "CANCELLED"}


async def test_payment_method_changes_show_brand_and_last4_only(ports: FakePorts) -> None:
    add = AddPaymentMethod
    with ports.acting_as(CALLER):
        visa = await add_payment_method(
            add(ALICE, PaymentMethodType.CREDIT_CARD, "pm_card_visa"), ports.deps
        )
        paypal = await add_payment_method(
            add(ALICE, PaymentMethodType.PAYPAL, "ba_paypal_agreement_1",
                paypal_email="buyer@example.com", set_default=True),
            ports.deps,
        )  # fmt: skip
        await set_default_payment_method(visa.id, ports.deps)
        await delete_payment_method(visa.id, ports.deps)
    assert [(r.entry.action, r.entry.resource_id) for r in rows(ports)] == [
        ("payment_method.add", visa.id),
        ("payment_method.clear_default", visa.id),
        ("payment_method.add", paypal.id),
        ("payment_method.clear_default", paypal.id),
        ("payment_method.set_default", visa.id),
        ("payment_method.remove", visa.id),
        ("payment_method.set_default", paypal.id),
    ]
    first = rows(ports)[0].entry.after
    assert first is not None
    assert (first["card_brand"], first["card_last4"], first["is_default"]) == ("visa", "4242", True)
    removed = rows(ports)[5].entry
    assert (removed.before, removed.after) == (
        {"deleted": False, "is_default": True},
        {"deleted": True, "is_default": False},
    )
    stored = json.dumps([(r.entry.before, r.entry.after) for r in rows(ports)])
    assert "pm_card" not in stored and "ba_paypal" not in stored and "@" not in stored
    assert_chain_intact(ports)


async def test_a_webhook_is_recorded_as_its_gateway_with_the_event(ports: FakePorts) -> None:
    payment = await authorized(ports)
    stripe = Actor(ActorKind.GATEWAY, "stripe", request_id="req-w", origin="ipv4:3.3.3.3:1")
    event = GatewayEvent(
        gateway=GatewayName.STRIPE,
        event_id="evt_1",
        type="charge.captured",
        kind=GatewayEventKind.CAPTURED,
        occurred_at=ports.clock.now(),
        gateway_payment_id=ports.uow.committed_payment(payment.id).gateway_payment_id,
        amount_minor=10_000,
    )
    with ports.acting_as(stripe):
        await apply_gateway_event(event, ports.deps)
        await apply_gateway_event(event, ports.deps)  # redelivered: no second row
    [applied] = [r.entry for r in rows(ports, payment.id) if r.entry.action == "webhook.apply"]
    assert (applied.actor_kind, applied.actor_subject) == ("gateway", "stripe")
    assert applied.after is not None
    assert applied.after["status"] == "CAPTURED"
    assert applied.after["webhook"] == {
        "gateway": "STRIPE",
        "event_id": "evt_1",
        "type": "charge.captured",
    }


async def test_the_consumer_acts_as_the_system_with_the_event_id(ports: FakePorts) -> None:
    consumer = consumer_actor("evt-order-1", "order.events")  # as server/messaging.py builds it
    deps = ports.deps_for(consumer)
    await handle_order_confirmed(confirmed(userId=user_id(8)), deps, auto_capture=False)
    [failed] = [r.entry for r in rows(ports)]
    assert (failed.action, failed.resource_type, failed.outcome, failed.reason) == (
        "payment.create",
        "order",
        "failure",
        "NO_DEFAULT_PAYMENT_METHOD",
    )
    assert (failed.actor_kind, failed.actor_subject) == ("system", "order-events-consumer")
    assert (failed.request_id, failed.origin) == ("evt-order-1", "order.events")


async def test_a_rolled_back_unit_of_work_leaves_no_entry(ports: FakePorts) -> None:
    async with ports.uow as uow:
        uow.fact("admin.note.add", "payment", "p-1", after={"note": "x"})
    async with ports.uow as uow:
        uow.fact("admin.note.add", "payment", "p-2", after={"note": "y"})
        await uow.commit()
    assert [r.entry.resource_id for r in rows(ports)] == ["p-2"]


async def test_the_trail_records_the_exemption_asked_sent_applied_and_the_liability(
    ports: FakePorts,
) -> None:
    applied = GatewayOutcome(
        OutcomeStatus.SUCCEEDED,
        "gw_1",
        liability_shift=False,
        sca_exemption_sent="sca_exemption=TRANSACTION_RISK_ANALYSIS",
        sca_exemption_applied=True,
    )
    ports.gateway.will("authorize", applied)
    payment = await authorized(ports, sca_exemption=ScaExemption.TRANSACTION_RISK_ANALYSIS)
    created_row, *_, authorized_row = rows(ports, payment.id)
    assert created_row.entry.after is not None
    assert created_row.entry.after["sca_exemption"] == "TRANSACTION_RISK_ANALYSIS"
    assert created_row.entry.after["sca_exemption_sent"] is None  # nothing sent yet
    after = authorized_row.entry.after
    assert after is not None
    assert {k: after.get(k) for k in ("sca_exemption_sent", "sca_exemption_applied",
                                      "liability_shift")} == {
        "sca_exemption_sent": "sca_exemption=TRANSACTION_RISK_ANALYSIS",
        "sca_exemption_applied": True,
        "liability_shift": False,
    }  # fmt: skip
