"""Automatic retries of soft failures from the durable schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.commands import AuthorizePayment, RefundPayment
from domain.enums import PaymentStatus, RefundStatus
from domain.errors import GatewayUnavailable, PaymentDeclined
from domain.retry import RetryOperation, RetryPolicy
from domain.usecases.operations import authorize_payment
from domain.usecases.refunds import refund_payment
from domain.usecases.retry_worker import RetryOutcome, RetryWorker
from tests.unit.fakes import FakePorts, declined, order_id, unavailable
from tests.unit.test_usecases import captured, created, stored

POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(minutes=5))


@pytest.fixture
def retrying(ports: FakePorts) -> FakePorts:
    ports.retry_policy = POLICY
    return ports


def worker(ports: FakePorts) -> RetryWorker:
    return RetryWorker(ports.deps_for)


async def test_a_soft_decline_is_retried_until_it_succeeds(retrying: FakePorts) -> None:
    payment = await created(retrying)
    retrying.gateway.will("authorize", declined("PROCESSING_ERROR", "try again"))
    with pytest.raises(PaymentDeclined):
        await authorize_payment(AuthorizePayment(payment.id), retrying.deps)
    [retry] = retrying.uow.committed_retries()
    assert (retry.operation, retry.attempt) == (RetryOperation.AUTHORIZE, 1)
    assert await worker(retrying).run_once() == 0  # not due yet
    retrying.clock.advance(timedelta(seconds=11))
    assert await worker(retrying).run_once() == 1
    assert stored(retrying, payment.id).status is PaymentStatus.AUTHORIZED
    assert stored(retrying, payment.id).retry_count == 1
    assert retrying.uow.committed_retries() == []
    assert retrying.uow.event_types().count("payment.failed") == 1  # the failed attempt


async def test_a_hard_decline_is_never_retried(retrying: FakePorts) -> None:
    payment = await created(retrying)
    retrying.gateway.will("authorize", declined("INSUFFICIENT_FUNDS", "no money"))
    with pytest.raises(PaymentDeclined):
        await authorize_payment(AuthorizePayment(payment.id), retrying.deps)
    assert retrying.uow.committed_retries() == []


async def test_retries_back_off_and_give_up_after_the_limit(retrying: FakePorts) -> None:
    payment = await created(retrying)
    retrying.gateway.will("authorize", *(unavailable() for _ in range(4)))
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(payment.id), retrying.deps)
    delays = []
    for attempt in (1, 2, 3):
        [retry] = retrying.uow.committed_retries()
        assert retry.attempt == attempt
        delays.append(retry.run_at - retrying.clock.now())
        retrying.clock.advance(retry.run_at - retrying.clock.now() + timedelta(seconds=1))
        await worker(retrying).run_once()
    assert retrying.uow.committed_retries() == []  # three retries, then it stops
    assert len(retrying.gateway.calls_to("authorize")) == 4
    # Each wait is within [half, all] of base * 2^(n-1).
    for n, delay in enumerate(delays):
        ceiling = POLICY.base * (1 << n)
        assert ceiling / 2 - timedelta(seconds=2) <= delay <= ceiling
    assert stored(retrying, payment.id).status is PaymentStatus.PENDING


async def test_a_refund_to_an_unreachable_gateway_stays_pending_and_is_sent_later(
    retrying: FakePorts,
) -> None:
    payment = await captured(retrying)
    retrying.gateway.will("refund", unavailable())
    refund, _ = await refund_payment(RefundPayment(payment.id, amount_minor=2500), retrying.deps)
    assert refund.status is RefundStatus.PENDING
    [retry] = retrying.uow.committed_retries()
    assert (retry.operation, retry.target_id) == (RetryOperation.REFUND, refund.id)
    retrying.clock.advance(timedelta(seconds=11))
    await worker(retrying).run_once()
    settled = retrying.uow.committed_refund(refund.id)
    assert settled.status is RefundStatus.PROCESSED
    assert stored(retrying, payment.id).amounts.refunded.amount_minor == 2500
    assert retrying.uow.committed_retries() == []


async def test_without_retries_an_unreachable_refund_fails(ports: FakePorts) -> None:
    payment = await captured(ports)
    ports.gateway.will("refund", unavailable())
    with pytest.raises(GatewayUnavailable):
        await refund_payment(RefundPayment(payment.id, amount_minor=100), ports.deps)


async def test_each_run_reports_its_outcome(retrying: FakePorts) -> None:
    """What the service counts (payments_retries_run_total): rescheduled, then ended after the
    limit; and succeeded for one that went through."""
    outcomes: list[str] = []
    counting = RetryWorker(retrying.deps_for, on_outcome=outcomes.append)
    failing = await created(retrying)
    retrying.gateway.will("authorize", *(unavailable() for _ in range(4)))
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(failing.id), retrying.deps)
    for _ in range(3):
        [retry] = retrying.uow.committed_retries()
        retrying.clock.advance(retry.run_at - retrying.clock.now() + timedelta(seconds=1))
        await counting.run_once()
    assert outcomes == [RetryOutcome.RESCHEDULED, RetryOutcome.RESCHEDULED, RetryOutcome.ENDED]

    outcomes.clear()
    recovering = await created(retrying, order_id=order_id(2))
    retrying.gateway.will("authorize", unavailable())
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(recovering.id), retrying.deps)
    [retry] = retrying.uow.committed_retries()
    retrying.clock.advance(retry.run_at - retrying.clock.now() + timedelta(seconds=1))
    assert await counting.run_once() == 1
    assert outcomes == [RetryOutcome.SUCCEEDED]
