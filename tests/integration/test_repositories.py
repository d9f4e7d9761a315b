"""Repositories and the unit of work against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName, PaymentMethodType, PaymentStatus, TransactionStatus
from domain.errors import ConcurrentModification, PaymentAlreadyExists, PaymentNotFound
from domain.gateway import GatewayOutcome
from domain.money import Money
from domain.pagination import PageRequest
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from infra.db.uow import SqlUnitOfWork
from tests.support.encryption import sealer_for
from tests.support.polling import eventually
from tests.support.wire import RENDER

SEALER = sealer_for()


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def new_payment(amount: int = 1099, currency: str = "EUR") -> Payment:
    moment = now()
    return Payment(
        id=new_id(),
        order_id=new_id(),
        user_id=new_id(),
        amounts=PaymentAmounts.of(Money(amount, currency)),
        payment_method_type=PaymentMethodType.CREDIT_CARD,
        gateway=GatewayName.SIMULATOR,
        created_at=moment,
        updated_at=moment,
        payment_method_token="pm_card_visa",
        description="two books",
        metadata={"cart": "42"},
    )


async def store(engine: AsyncEngine, payment: Payment) -> None:
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        await uow.payments.add(payment)
        await uow.commit()


async def test_payment_round_trips_with_its_transactions(engine: AsyncEngine) -> None:
    payment = new_payment()
    await store(engine, payment)
    uow = SqlUnitOfWork(engine, SEALER, RENDER)
    async with uow:
        loaded = await uow.payments.get_for_update(payment.id)
        txn = loaded.begin_authorization(transaction_id=new_id(), now=now())
        loaded.record_authorization(txn.id, GatewayOutcome.succeeded("pi_1"), now(), new_id())
        await uow.payments.save(loaded)
        await uow.commit()
    async with uow:
        again = await uow.payments.get(payment.id)
    assert again.status is PaymentStatus.AUTHORIZED
    assert again.amounts.authorized.amount_minor == 1099
    assert again.gateway_payment_id == "pi_1"
    assert again.metadata == {"cart": "42"}
    assert again.version == 2
    assert [(t.type.value, t.status) for t in again.transactions] == [
        ("AUTHORIZATION", TransactionStatus.SUCCEEDED)
    ]
    assert again.transactions[0].idempotency_key == f"payments-{txn.id}"


async def test_changes_without_commit_are_rolled_back(engine: AsyncEngine) -> None:
    payment = new_payment()
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        await uow.payments.add(payment)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        with pytest.raises(PaymentNotFound):
            await uow.payments.get(payment.id)


async def test_second_payment_for_an_order_names_the_first(engine: AsyncEngine) -> None:
    first = new_payment()
    await store(engine, first)
    second = new_payment()
    second.order_id = first.order_id
    with pytest.raises(PaymentAlreadyExists) as raised:
        await store(engine, second)
    assert raised.value.metadata["payment_id"] == first.id


async def test_saving_a_stale_version_is_refused(engine: AsyncEngine) -> None:
    payment = new_payment()
    await store(engine, payment)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        first = await uow.payments.get(payment.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        second = await uow.payments.get(payment.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        first.description = "changed once"
        await uow.payments.save(first)
        await uow.commit()
    entries_before = await audit_entries_of(engine, payment.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        second.description = "changed on a stale copy"
        await uow.payments.save(second)  # staged: the commit writes it
        with pytest.raises(ConcurrentModification):
            await uow.commit()  # its only statement, autocommitted: all of it or nothing
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert (await uow.payments.get(payment.id)).description == "changed once"
    assert await audit_entries_of(engine, payment.id) == entries_before


async def test_a_stale_save_is_refused_by_the_next_statement_of_its_transaction(
    engine: AsyncEngine,
) -> None:
    """A staged save is written before any other statement: the conflict surfaces there,
    and the statement after it never runs."""
    payment, other = new_payment(), new_payment()
    await store(engine, payment)
    await store(engine, other)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        stale = await uow.payments.get(payment.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        fresh = await uow.payments.get(payment.id)
        fresh.description = "changed once"
        await uow.payments.save(fresh)
        await uow.commit()
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        stale.description = "changed on a stale copy"
        await uow.payments.save(stale)
        with pytest.raises(ConcurrentModification):
            await uow.payments.get(other.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert (await uow.payments.get(payment.id)).description == "changed once"


async def test_a_read_before_anything_else_runs_alone_and_what_follows_is_a_transaction(
    engine: AsyncEngine,
) -> None:
    """The first plain read of a unit of work runs in autocommit (staging.py); the writes
    after it still belong to one transaction, undone when the unit of work is not committed."""
    payment, other = new_payment(), new_payment()
    await store(engine, payment)
    await store(engine, other)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        read = await uow.payments.get(payment.id)  # alone: no transaction yet
        read.description = "never committed"
        await uow.payments.save(read)
        await uow.payments.get(other.id)  # writes the staged save first, in a transaction
        # leaves without commit: the save is rolled back
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert (await uow.payments.get(payment.id)).description == payment.description


async def audit_entries_of(engine: AsyncEngine, payment_id: str) -> int:
    """The payment's audit entries, chained or waiting for the linker (another server of the
    session may link them meanwhile: one statement sees both tables at one moment)."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM audit_log WHERE resource_id = :id)"
                " + (SELECT count(*) FROM audit_pending WHERE strpos(payload, :id) > 0)"
            ),
            {"id": payment_id},
        )
        return int(found.scalar_one())


async def test_get_for_update_serialises_concurrent_writers(engine: AsyncEngine) -> None:
    """Two transactions lock the same payment: the second waits for the first to commit
    and then sees its change, so neither overwrites the other."""
    payment = new_payment()
    await store(engine, payment)
    order: list[str] = []
    first_has_lock = asyncio.Event()

    async def writer(name: str, hold: asyncio.Event | None) -> None:
        async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
            loaded = await uow.payments.get_for_update(payment.id)
            order.append(f"{name}:locked:v{loaded.version}")
            if hold is not None:
                first_has_lock.set()
                await hold.wait()
            loaded.retry_count += 1
            await uow.payments.save(loaded)
            await uow.commit()

    release = asyncio.Event()
    first = asyncio.create_task(writer("first", release))
    await first_has_lock.wait()
    second = asyncio.create_task(writer("second", None))

    async def second_waits_on_the_lock() -> bool:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        return bool(waiting)

    await eventually(second_waits_on_the_lock)
    assert order == ["first:locked:v1"]
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first:locked:v1", "second:locked:v2"]
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert (await uow.payments.get(payment.id)).retry_count == 2


async def test_database_refuses_refunding_more_than_captured(engine: AsyncEngine) -> None:
    payment = new_payment()
    await store(engine, payment)
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError, match="amounts_ordered"):
            await conn.execute(
                text("UPDATE payments SET refunded_minor = 5 WHERE id = :id"), {"id": payment.id}
            )


async def test_one_default_method_per_user_is_a_constraint(engine: AsyncEngine) -> None:
    user = new_id()

    def method(default: bool) -> PaymentMethod:
        moment = now()
        return PaymentMethod(
            id=new_id(),
            user_id=user,
            type=PaymentMethodType.CREDIT_CARD,
            gateway=GatewayName.SIMULATOR,
            token="pm_card_visa",
            created_at=moment,
            updated_at=moment,
            is_default=default,
        )

    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        await uow.payment_methods.add(method(True))
        await uow.commit()
    with pytest.raises(IntegrityError, match="one_default_per_user"):
        async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
            await uow.payment_methods.add(method(True))
            await uow.commit()


async def test_refunds_are_listed_in_pages(engine: AsyncEngine) -> None:
    payment = new_payment(amount=1000)
    await store(engine, payment)
    uow = SqlUnitOfWork(engine, SEALER, RENDER)
    async with uow:
        loaded = await uow.payments.get_for_update(payment.id)
        auth = loaded.begin_authorization(transaction_id=new_id(), now=now())
        loaded.record_authorization(auth.id, GatewayOutcome.succeeded("pi_pages"), now(), new_id())
        cap = loaded.begin_capture(transaction_id=new_id(), now=now())
        loaded.record_capture(cap.id, GatewayOutcome.succeeded("ch_pages"), now(), new_id())
        refund_ids = []
        for _ in range(5):
            refund_id = new_id()
            txn = loaded.begin_refund(
                transaction_id=new_id(), refund_id=refund_id, now=now(), amount_minor=100
            )
            await uow.payments.save(loaded)
            await uow.refunds.add(
                Refund(refund_id, loaded.id, txn.id, txn.amount, "", "", now(), now())
            )
            refund_ids.append(refund_id)
        await uow.commit()

    seen: list[str] = []
    token = ""
    async with uow:
        while True:
            page = await uow.refunds.list_for_payment(payment.id, PageRequest.parse(2, token))
            seen += [r.id for r in page.items]
            token = page.next_page_token
            if not token:
                break
    assert seen == refund_ids
