"""Settling open operations by asking the gateway (reconcile_operation, Reconciler)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.commands import CapturePayment, RefundPayment
from domain.enums import PaymentStatus, RefundStatus, TransactionStatus
from domain.errors import GatewayOutcomeUnknown
from domain.gateway import GatewayOutcome, LookupRequest
from domain.usecases.operations import capture_payment
from domain.usecases.reconcile import Reconciler, reconcile_operation
from domain.usecases.refunds import refund_payment
from tests.unit.fakes import FakePorts, outcome_unknown, unavailable
from tests.unit.test_usecases import authorized, captured, stored


async def unknown_capture(ports: FakePorts) -> tuple[str, str]:
    payment = await authorized(ports)
    ports.gateway.will("capture", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await capture_payment(CapturePayment(payment.id), ports.deps)
    txn = stored(ports, payment.id).transactions[-1]
    assert txn.status is TransactionStatus.UNKNOWN
    return payment.id, txn.id


async def test_an_operation_the_gateway_did_is_recorded(ports: FakePorts) -> None:
    payment_id, txn_id = await unknown_capture(ports)
    ports.gateway.will("lookup", GatewayOutcome.succeeded("ch_1"))
    await reconcile_operation(payment_id, txn_id, ports.deps)
    payment = stored(ports, payment_id)
    assert (payment.status, payment.amounts.captured.amount_minor) == (
        PaymentStatus.CAPTURED,
        10_000,
    )
    [lookup] = ports.gateway.calls_to("lookup")
    assert isinstance(lookup.request, LookupRequest)
    assert lookup.request.idempotency_key == f"payments-{txn_id}"
    assert ports.uow.event_types()[-1] == "payment.successful"


async def test_an_operation_the_gateway_never_received_is_closed(ports: FakePorts) -> None:
    payment_id, txn_id = await unknown_capture(ports)
    await reconcile_operation(payment_id, txn_id, ports.deps)  # lookup answers None
    payment = stored(ports, payment_id)
    assert payment.status is PaymentStatus.AUTHORIZED
    txn = payment.transaction(txn_id)
    assert (txn.status, txn.failure_code) == (TransactionStatus.FAILED, "GATEWAY_NOT_REACHED")


async def test_a_refund_is_settled_with_its_record(ports: FakePorts) -> None:
    payment = await captured(ports)
    ports.gateway.will("refund", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await refund_payment(RefundPayment(payment.id, amount_minor=400), ports.deps)
    txn = stored(ports, payment.id).transactions[-1]
    ports.gateway.will("lookup", GatewayOutcome.succeeded("re_1"))
    await reconcile_operation(payment.id, txn.id, ports.deps)
    refund = ports.uow.committed_refund(txn.refund_id or "")
    assert (refund.status, refund.gateway_refund_id) == (RefundStatus.PROCESSED, "re_1")
    assert stored(ports, payment.id).amounts.refunded.amount_minor == 400


async def test_reconciler_backs_off_exponentially(ports: FakePorts) -> None:
    payment_id, txn_id = await unknown_capture(ports)
    reconciler = Reconciler(
        ports.deps_for, settle_after=timedelta(0), first_backoff=timedelta(seconds=10)
    )
    ports.gateway.will("lookup", unavailable(), unavailable())
    assert await reconciler.run_once() == 0
    assert await reconciler.run_once() == 0  # too early: not asked
    assert len(ports.gateway.calls_to("lookup")) == 1
    ports.clock.advance(timedelta(seconds=11))
    assert await reconciler.run_once() == 0
    assert reconciler._retry_at[txn_id][0] == 2
    ports.clock.advance(timedelta(seconds=21))  # second wait is twice as long
    ports.gateway.will("lookup", GatewayOutcome.succeeded("ch_2"))
    assert await reconciler.run_once() == 1
    assert stored(ports, payment_id).status is PaymentStatus.CAPTURED


async def test_reconciler_leaves_young_operations_alone(ports: FakePorts) -> None:
    await unknown_capture(ports)
    reconciler = Reconciler(ports.deps_for, settle_after=timedelta(hours=1))
    assert await reconciler.run_once() == 0
    assert ports.gateway.calls_to("lookup") == []
