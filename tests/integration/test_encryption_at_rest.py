"""Sensitive columns are sealed in PostgreSQL: the raw rows never hold the plaintext, the
repositories read them back, and a ciphertext moved elsewhere does not decrypt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.idempotency import Claim, IdempotencyKey, KeyRecord, StoredAnswer
from infra.cache import make_redis
from infra.cache.idempotency import RedisAnswerCache
from infra.crypto.envelope import envelope_header, plaintext_value
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.sealing import UnreadableValue
from infra.db.tables import idempotency_keys, payment_methods, payments, refunds, webhook_events
from infra.db.uow import SqlUnitOfWork
from infra.db.webhooks import stored_webhook_payload
from tests.support.encryption import TEST_KEY_RING, new_key, sealer_for
from tests.support.sensitive_rows import (
    PersonalData,
    new_id,
    now,
    paypal_method,
    record_webhook,
    store_method,
    store_refunded_payment,
    webhook_receipt,
)
from tests.support.wire import RENDER

SEALER = sealer_for()
TEST_KEY_ID = TEST_KEY_RING.split(":", 1)[0]


async def raw_row(engine: AsyncEngine, table: Any, *where: Any) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(table).where(*where))).mappings().one()
    return dict(row)


def assert_sealed(value: Any, data: PersonalData) -> None:
    assert isinstance(value, bytes) and value.startswith(envelope_header(TEST_KEY_ID))
    for secret in data.all():
        assert secret.encode() not in value


async def test_payment_columns_are_sealed_and_read_back(engine: AsyncEngine) -> None:
    data = PersonalData.unique()
    payment, refund = await store_refunded_payment(engine, SEALER, data)
    row = await raw_row(engine, payments, payments.c.id == payment.id)
    for column in ("metadata", "description", "gateway_customer_id"):
        assert_sealed(row[column], data)
    assert row["cancellation_reason"] is None  # empty: nothing to seal
    refund_row = await raw_row(engine, refunds, refunds.c.id == refund.id)
    assert_sealed(refund_row["reason"], data)
    # What is not personal stays queryable in clear.
    assert (row["amount_minor"], row["refunded_minor"], row["status"]) == (
        5000,
        1500,
        "PARTIALLY_REFUNDED",
    )
    assert payment.metadata == {"customer_email": data.email, "cart": "42"}
    assert payment.description == data.description
    assert payment.gateway_customer_id == data.customer
    assert refund.reason == data.reason


async def test_payment_method_columns_are_sealed_and_found_by_blind_index(
    engine: AsyncEngine,
) -> None:
    data = PersonalData.unique()
    method = paypal_method(data)
    await store_method(engine, SEALER, method)
    row = await raw_row(engine, payment_methods, payment_methods.c.id == method.id)
    assert_sealed(row["paypal_email"], data)
    assert_sealed(row["gateway_customer_id"], data)
    assert (
        len(row["paypal_email_bidx"]) == 32 and data.email.encode() not in row["paypal_email_bidx"]
    )
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        loaded = await uow.payment_methods.get(method.id)
        by_email = await uow.payment_methods.find_by_paypal_email(f"  {data.email.upper()} ")
        by_customer = await uow.payment_methods.find_by_gateway_customer("PAYPAL", data.customer)
        elsewhere = await uow.payment_methods.find_by_gateway_customer("STRIPE", data.customer)
        nobody = await uow.payment_methods.find_by_paypal_email(f"x{data.email}")
        empty = await uow.payment_methods.find_by_paypal_email("")
    assert (loaded.paypal_email, loaded.gateway_customer_id) == (data.email, data.customer)
    assert [m.id for m in by_email] == [method.id] == [m.id for m in by_customer]
    assert elsewhere == [] and nobody == [] and empty == []


async def test_blind_indexes_depend_on_the_blind_index_key(engine: AsyncEngine) -> None:
    data = PersonalData.unique()
    await store_method(engine, SEALER, paypal_method(data))
    other_index_key = sealer_for(TEST_KEY_RING, new_key())
    async with SqlUnitOfWork(engine, other_index_key, RENDER) as uow:
        assert await uow.payment_methods.find_by_paypal_email(data.email) == []


async def test_webhook_payloads_are_sealed(engine: AsyncEngine) -> None:
    data = PersonalData.unique()
    receipt = webhook_receipt(data)
    assert await record_webhook(engine, SEALER, receipt)
    row = await raw_row(engine, webhook_events, webhook_events.c.event_id == receipt.event_id)
    assert_sealed(row["payload"], data)
    assert stored_webhook_payload(row, SEALER) == receipt.payload


async def test_saved_idempotent_answers_are_sealed(engine: AsyncEngine) -> None:
    data = PersonalData.unique()
    store = SqlIdempotencyStore(engine, SEALER)
    key = IdempotencyKey(f"caller-{new_id()}", "/payments.v1.PaymentService/CreatePayment", "k1")
    claim = await store.claim(key, "fp", now(), timedelta(seconds=30))
    assert isinstance(claim, Claim)
    await store.complete(claim, StoredAnswer(0, data.email.encode()), now())
    row = await raw_row(engine, idempotency_keys, idempotency_keys.c.caller == key.caller)
    assert_sealed(row["answer_body"], data)
    record = await store.claim(key, "fp", now(), timedelta(seconds=30))
    assert isinstance(record, KeyRecord) and record.answer == StoredAnswer(0, data.email.encode())


async def test_a_ciphertext_copied_to_another_row_does_not_decrypt(engine: AsyncEngine) -> None:
    victim, _ = await store_refunded_payment(engine, SEALER, PersonalData.unique())
    attacker, _ = await store_refunded_payment(engine, SEALER, PersonalData.unique())
    async with engine.begin() as conn:
        stolen = select(payments.c.metadata).where(payments.c.id == victim.id).scalar_subquery()
        await conn.execute(
            update(payments).where(payments.c.id == attacker.id).values(metadata=stolen)
        )
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        with pytest.raises(UnreadableValue, match="authentication failed") as error:
            await uow.payments.get(attacker.id)
        assert await uow.payments.get(victim.id)
    assert f"payments.metadata of row {attacker.id}" in str(error.value)


async def test_a_ciphertext_copied_to_another_column_does_not_decrypt(engine: AsyncEngine) -> None:
    data = PersonalData.unique()
    method = paypal_method(data)
    await store_method(engine, SEALER, method)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE payment_methods SET gateway_customer_id = paypal_email WHERE id = :id"),
            {"id": method.id},
        )
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        with pytest.raises(UnreadableValue, match="gateway_customer_id of row"):
            await uow.payment_methods.get(method.id)


async def test_a_value_sealed_with_a_key_missing_from_the_ring_fails_clearly(
    engine: AsyncEngine,
) -> None:
    retired = sealer_for(f"retired-7:{new_key()}")
    payment, _ = await store_refunded_payment(engine, retired, PersonalData.unique())
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        with pytest.raises(UnreadableValue, match="sealed with key 'retired-7', which is not in"):
            await uow.payments.get(payment.id)


async def test_answers_cached_in_redis_are_sealed_and_planted_ones_ignored(
    redis_url: str, redis_key_prefix: str
) -> None:
    data = PersonalData.unique()
    redis = make_redis(redis_url)
    cache = RedisAnswerCache(
        redis, prefix=redis_key_prefix, retention=timedelta(minutes=5), cipher=SEALER.cipher
    )
    key = IdempotencyKey(f"caller-{new_id()}", "/payments.v1.PaymentService/GetPayment", "k")
    fingerprint, answer = "f" * 64, StoredAnswer(0, data.email.encode())
    redis_key = f"{redis_key_prefix}idem:answer:{key.digest}"
    try:
        await cache.put(key, fingerprint, answer)
        raw = await redis.get(redis_key)
        assert isinstance(raw, bytes)
        assert_sealed(raw, data)
        assert await cache.get(key) == (fingerprint, answer)

        in_clear = SEALER.cipher.open(raw, RedisAnswerCache._place(key))
        await redis.set(redis_key, plaintext_value(in_clear))
        assert await cache.get(key) is None  # planted in clear: a miss, not a replay
        await redis.set(redis_key, raw[:-1] + bytes([raw[-1] ^ 1]))
        assert await cache.get(key) is None  # altered: a miss
    finally:
        await redis.delete(redis_key)
        await redis.aclose()
