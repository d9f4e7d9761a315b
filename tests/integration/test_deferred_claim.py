"""A keyed request's key claimed by its first commit, in the statement of its writes
(RequestClaim deferred): claimed with them, or nothing of that commit stays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ConcurrentModification, PaymentAlreadyExists
from domain.idempotency import Claim, IdempotencyKey, KeyState, KeyTakenMeanwhile, StoredAnswer
from domain.payment import Payment
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.request_claim import RequestClaim
from infra.db.uow import SqlUnitOfWork
from tests.integration.test_repositories import SEALER, new_payment, store
from tests.support.wire import RENDER

LEASE = timedelta(seconds=30)
METHOD = "/payments.v1.PaymentService/CreatePayment"


def answered(result: object) -> tuple[StoredAnswer, object | None]:
    assert isinstance(result, Payment)
    return StoredAnswer(0, result.id.encode()), None


def request(engine: AsyncEngine, key: IdempotencyKey) -> RequestClaim:
    return RequestClaim(
        SqlIdempotencyStore(engine, SEALER),
        key,
        fingerprint="fp-1",
        lease=LEASE,
        render=answered,
        clock=lambda: datetime.now(UTC),
        deferred=True,
    )


def a_key() -> IdempotencyKey:
    return IdempotencyKey("svc-a", METHOD, f"key-{uuid.uuid4()}")


async def key_row(engine: AsyncEngine, key: IdempotencyKey) -> dict[str, object] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT state, answer_code, created_at FROM idempotency_keys"
                    " WHERE caller = :c AND method = :m AND key = :k"
                ),
                {"c": key.caller, "m": key.method, "k": key.key},
            )
        ).first()
    return None if row is None else dict(row._mapping)


async def payment_exists(engine: AsyncEngine, payment_id: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT 1 FROM payments WHERE id = :id"), {"id": payment_id}
        )
        return found.first() is not None


async def test_the_first_commit_claims_the_key_answered_with_the_payment(
    engine: AsyncEngine,
) -> None:
    key, payment = a_key(), new_payment()
    claim = request(engine, key)
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=claim) as uow:
        await uow.payments.add(payment)
        uow.conclude(payment)
        await uow.commit()
    row = await key_row(engine, key)
    assert row is not None and row["state"] == KeyState.COMPLETED.value
    assert row["answer_code"] == 0
    assert claim.claim is not None and claim.answer == StoredAnswer(0, payment.id.encode())
    assert await payment_exists(engine, payment.id)


async def test_a_key_there_before_refuses_the_whole_commit(engine: AsyncEngine) -> None:
    key, payment = a_key(), new_payment()
    first = await SqlIdempotencyStore(engine, SEALER).claim(key, "fp-1", datetime.now(UTC), LEASE)
    assert isinstance(first, Claim)
    claim = request(engine, key)
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=claim) as uow:
        await uow.payments.add(payment)
        uow.conclude(payment)
        with pytest.raises(KeyTakenMeanwhile):
            await uow.commit()
    assert not await payment_exists(engine, payment.id)
    row = await key_row(engine, key)
    assert row is not None and row["state"] == KeyState.IN_PROGRESS.value  # the first's, untouched
    assert claim.claim is None and claim.answer is None


async def test_a_refused_write_takes_the_claim_with_it(engine: AsyncEngine) -> None:
    """The claim went in, the payment's save found another version: the error ends the
    statement, so the key is not left claimed by a request that wrote nothing."""
    payment = new_payment()
    await store(engine, payment)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        stale = await uow.payments.get(payment.id)
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        fresh = await uow.payments.get(payment.id)
        fresh.description = "changed meanwhile"
        await uow.payments.save(fresh)
        await uow.commit()
    key = a_key()
    claim = request(engine, key)
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=claim) as uow:
        stale.description = "changed on a stale copy"
        await uow.payments.save(stale)
        with pytest.raises(ConcurrentModification):
            await uow.commit()
    assert await key_row(engine, key) is None
    # The same request on the fresh payment then claims it (same seed, same moment).
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=claim) as uow:
        again = await uow.payments.get(payment.id)
        again.description = "changed by the request"
        await uow.payments.save(again)
        await uow.commit()
    assert (await key_row(engine, key) or {}).get("state") == KeyState.IN_PROGRESS.value


async def test_an_order_with_a_payment_refuses_the_insert_and_the_claim(
    engine: AsyncEngine,
) -> None:
    existing = new_payment()
    await store(engine, existing)
    second = new_payment()
    second.order_id = existing.order_id
    key = a_key()
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=request(engine, key)) as uow:
        await uow.payments.add(second)
        uow.conclude(second)
        with pytest.raises(PaymentAlreadyExists) as taken:
            await uow.commit()
    assert taken.value.metadata["payment_id"] == existing.id
    assert await key_row(engine, key) is None


async def test_a_claim_inside_a_transaction_is_rolled_back_with_it(engine: AsyncEngine) -> None:
    """After a locked read the commit is a transaction's last statement: refused, the
    transaction ends and nothing of it stays."""
    payment = new_payment()
    await store(engine, payment)
    key = a_key()
    await SqlIdempotencyStore(engine, SEALER).claim(key, "fp-1", datetime.now(UTC), LEASE)
    async with SqlUnitOfWork(engine, SEALER, RENDER, request=request(engine, key)) as uow:
        locked = await uow.payments.get_for_update(payment.id)
        locked.description = "changed under the lock"
        await uow.payments.save(locked)
        with pytest.raises(KeyTakenMeanwhile):
            await uow.commit()
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert (await uow.payments.get(payment.id)).description == "two books"
