"""The fakes keep the promises of the port docstrings; the use case tests rely on it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enums import GatewayName, PaymentStatus
from domain.errors import (
    ConcurrentModification,
    GatewayUnavailable,
    PaymentAlreadyExists,
    PaymentNotFound,
)
from domain.gateway import GatewayOperationRequest, OutcomeStatus
from domain.money import Money
from tests.unit.fakes import (
    START,
    AdvancingClock,
    FakeGateway,
    FakeGatewayDirectory,
    FakeUnitOfWork,
    FixedClock,
    InMemoryDatabase,
    SequentialIds,
    new_payment,
    order_id,
)


async def test_changes_without_commit_are_discarded() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        await uow.payments.add(new_payment())
    assert uow.db.payments == {}
    assert uow.rollbacks == 1

    async with uow:
        await uow.payments.add(new_payment())
        await uow.commit()
        payment = await uow.payments.get_for_update(new_payment().id)
        payment.status = PaymentStatus.CANCELLED
        await uow.payments.save(payment)  # after the commit: rolled back on exit
    assert uow.committed_payment(payment.id).status is PaymentStatus.PENDING


async def test_an_exception_rolls_back() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(RuntimeError, match="boom"):
        async with uow:
            await uow.payments.add(new_payment())
            raise RuntimeError("boom")
    assert uow.db.payments == {}


async def test_repositories_hand_out_copies() -> None:
    uow = FakeUnitOfWork()
    payment = new_payment()
    async with uow:
        await uow.payments.add(payment)
        await uow.commit()
    payment.status = PaymentStatus.FAILED  # the caller's object is not the stored row
    async with uow:
        loaded = await uow.payments.get(payment.id)
        loaded.status = PaymentStatus.CANCELLED  # not saved
        assert (await uow.payments.get(payment.id)).status is PaymentStatus.PENDING


async def test_a_stale_version_cannot_be_saved() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        await uow.payments.add(new_payment())
        await uow.commit()
    async with uow:
        first = await uow.payments.get_for_update(new_payment().id)
        second = await uow.payments.get_for_update(new_payment().id)
        await uow.payments.save(first)
        assert first.version == 1
        with pytest.raises(ConcurrentModification):
            await uow.payments.save(second)


async def test_a_stale_version_is_detected_across_transactions() -> None:
    db = InMemoryDatabase()
    one, other = FakeUnitOfWork(db), FakeUnitOfWork(db)
    async with one:
        await one.payments.add(new_payment())
        await one.commit()
    async with one:
        mine = await one.payments.get_for_update(new_payment().id)
        async with other:
            theirs = await other.payments.get_for_update(new_payment().id)
            await other.payments.save(theirs)
            await other.commit()
        with pytest.raises(ConcurrentModification):
            await one.payments.save(mine)


async def test_one_payment_per_order() -> None:
    uow = FakeUnitOfWork()
    first = new_payment()
    async with uow:
        await uow.payments.add(first)
        with pytest.raises(PaymentAlreadyExists) as caught:
            await uow.payments.add(new_payment(payment_id="22222222-2222-4222-8222-222222222222"))
        assert caught.value.metadata == {"order_id": first.order_id, "payment_id": first.id}
        assert await uow.payments.find_by_order(order_id(1)) == first
        assert await uow.payments.find_by_order(order_id(2)) is None
        with pytest.raises(PaymentNotFound):
            await uow.payments.get("nope")


async def test_transactions_are_neither_nested_nor_skipped() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(RuntimeError, match="outside"):
        uow.payments  # noqa: B018
    async with uow:
        with pytest.raises(RuntimeError, match="already"):
            async with uow:
                pass


def test_clocks_and_ids() -> None:
    fixed = FixedClock()
    assert fixed.now() == fixed.now() == START
    fixed.advance(timedelta(minutes=1))
    assert fixed.now() == START + timedelta(minutes=1)
    ticking = AdvancingClock()
    assert ticking.now() < ticking.now()
    ids = SequentialIds()
    assert [ids.new_id(), ids.new_id()] == [
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
    ]


async def test_the_gateway_follows_its_script_then_succeeds() -> None:
    gateway = FakeGateway()
    gateway.will("capture", GatewayUnavailable("down"))
    request = GatewayOperationRequest("k", "gw_1", Money(1, "EUR"))
    with pytest.raises(GatewayUnavailable):
        await gateway.capture(request)
    outcome = await gateway.capture(request)
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert [c.operation for c in gateway.calls] == ["capture", "capture"]


def test_the_directory_knows_only_configured_gateways() -> None:
    directory = FakeGatewayDirectory(FakeGateway())
    assert directory.get(GatewayName.SIMULATOR).name is GatewayName.SIMULATOR
    with pytest.raises(GatewayUnavailable):
        directory.get(GatewayName.STRIPE)
