"""`rotate-keys` against a database of its own: every value moves to the active key, the
service then reads everything without the old key, and rotations run safely beside requests
and beside each other."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.idempotency import Claim, IdempotencyKey, KeyRecord, StoredAnswer
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.webhooks import WebhookReceipt
from infra.crypto.blind_index import HmacBlindIndexer
from infra.crypto.envelope import EnvelopeCipher, envelope_header
from infra.crypto.keyring import parse_key_ring
from infra.db.encrypted_columns import ENCRYPTED_TABLES
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.rotation import KeyRotation, RotationReport
from infra.db.sealing import Sealer
from infra.db.tables import metadata, webhook_events
from infra.db.uow import SqlUnitOfWork
from infra.db.webhooks import stored_webhook_payload
from tests.support.encryption import new_key, sealer_for
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

K1, K2 = f"k1:{new_key()}", f"k2:{new_key()}"
BOTH = f"{K2},{K1}"  # k2 active, k1 still readable
INDEX_KEY = new_key()
# Per refunded payment: metadata, description and customer id, and its refund's reason;
# per method: e-mail and customer id; per webhook: payload; per idempotency key: answer.
VALUES_PER_PAYMENT, VALUES_PER_METHOD = 4, 2


def sealer(ring: str, index_key: str = INDEX_KEY) -> Sealer:
    return sealer_for(ring, index_key)


def rotation(
    engine: AsyncEngine, ring: str, index_key: str = INDEX_KEY, **options: Any
) -> KeyRotation:
    cipher = EnvelopeCipher(parse_key_ring(ring))
    indexer = HmacBlindIndexer(base64.b64decode(index_key))
    return KeyRotation(engine, cipher, indexer, **options)


@dataclass
class Seeded:
    payments: list[tuple[Payment, Refund]]
    methods: list[tuple[PaymentMethod, PersonalData]]
    webhook: WebhookReceipt
    answer: tuple[IdempotencyKey, bytes]

    @property
    def values(self) -> int:
        return len(self.payments) * VALUES_PER_PAYMENT + len(self.methods) * VALUES_PER_METHOD + 2


async def seed(engine: AsyncEngine, ring: str, payments: int = 3) -> Seeded:
    with_k1 = sealer(ring)
    stored = [
        await store_refunded_payment(engine, with_k1, PersonalData.unique())
        for _ in range(payments)
    ]
    methods = []
    for _ in range(2):
        data = PersonalData.unique()
        method = paypal_method(data)
        await store_method(engine, with_k1, method)
        methods.append((method, data))
    receipt = webhook_receipt(PersonalData.unique())
    await record_webhook(engine, with_k1, receipt)
    store = SqlIdempotencyStore(engine, with_k1)
    key = IdempotencyKey("caller", "/payments.v1.PaymentService/CreatePayment", new_id())
    claim = await store.claim(key, "fp", now(), timedelta(seconds=30))
    assert isinstance(claim, Claim)
    await store.complete(claim, StoredAnswer(0, b"saved answer"), now())
    return Seeded(stored, methods, receipt, (key, b"saved answer"))


async def assert_readable_with(engine: AsyncEngine, ring: str, seeded: Seeded) -> None:
    """Everything seeded reads back, through the service's own code, with `ring` alone."""
    reader = sealer(ring)
    async with SqlUnitOfWork(engine, reader, RENDER) as uow:
        for payment, refund in seeded.payments:
            loaded = await uow.payments.get(payment.id)
            assert (loaded.metadata, loaded.description, loaded.gateway_customer_id) == (
                payment.metadata,
                payment.description,
                payment.gateway_customer_id,
            )
            assert (await uow.refunds.get(refund.id)).reason == refund.reason
        for method, data in seeded.methods:
            assert (await uow.payment_methods.get(method.id)).paypal_email == data.email
            found = await uow.payment_methods.find_by_paypal_email(data.email)
            assert [m.id for m in found] == [method.id]
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(webhook_events).where(
                        webhook_events.c.event_id == seeded.webhook.event_id
                    )
                )
            )
            .mappings()
            .one()
        )
    assert stored_webhook_payload(row, reader) == seeded.webhook.payload
    key, body = seeded.answer
    record = await SqlIdempotencyStore(engine, reader).claim(
        key, "fp", now(), timedelta(seconds=30)
    )
    assert isinstance(record, KeyRecord) and record.answer == StoredAnswer(0, body)


async def raw_values(engine: AsyncEngine) -> list[bytes]:
    values = []
    async with engine.connect() as conn:
        for spec in ENCRYPTED_TABLES:
            for column in spec.columns:
                col = spec.table.c[column]
                values += [bytes(v) for v in (await conn.execute(select(col))).scalars() if v]
    return values


def rewrapped(report: RotationReport) -> int:
    return sum(table.rewrapped for table in report.tables)


# BYTEA columns that hold no envelope: the outbox's published message value (the JSON that
# goes on the topic in clear).
PLAIN_BYTES = {("outbox", "value")}


def test_every_encrypted_column_is_rotated() -> None:
    """A BYTEA column of tables.py that rotate-keys does not know would keep its old key."""
    known = {(spec.name, column) for spec in ENCRYPTED_TABLES for column in spec.columns}
    blind = {(spec.name, index.column) for spec in ENCRYPTED_TABLES for index in spec.blind_indexes}
    sealed_kinds = {
        (table.name, column.name)
        for table in metadata.tables.values()
        for column in table.columns
        if column.type.__class__.__name__ == "BYTEA"
    }
    assert sealed_kinds - blind - PLAIN_BYTES == known


async def test_rotation_moves_every_value_to_the_active_key(own_engine: AsyncEngine) -> None:
    seeded = await seed(own_engine, K1)
    assert await rotation(own_engine, K1).key_usage() == {"k1": seeded.values}

    report = await rotation(own_engine, BOTH).run()

    assert report.active_key == "k2" and report.remaining == 0 and report.unreadable == []
    assert rewrapped(report) == seeded.values
    assert report.key_usage == {"k2": seeded.values}
    assert all(v.startswith(envelope_header("k2")) for v in await raw_values(own_engine))
    await assert_readable_with(own_engine, K2, seeded)  # k1 can be retired

    again = await rotation(own_engine, BOTH).run()
    assert sum(t.rows for t in again.tables) == 0 and again.key_usage == {"k2": seeded.values}


async def test_two_rotations_at_once_share_the_work(own_engine: AsyncEngine) -> None:
    seeded = await seed(own_engine, K1, payments=8)
    first, second = await asyncio.gather(
        rotation(own_engine, BOTH, batch_size=2).run(),
        rotation(own_engine, BOTH, batch_size=2).run(),
    )
    assert rewrapped(first) + rewrapped(second) == seeded.values
    assert first.remaining == second.remaining == 0
    assert first.unreadable == second.unreadable == []
    await assert_readable_with(own_engine, K2, seeded)


async def test_a_row_held_by_a_request_is_skipped_then_rotated(own_engine: AsyncEngine) -> None:
    seeded = await seed(own_engine, K1)
    held_payment = seeded.payments[0][0]
    async with SqlUnitOfWork(own_engine, sealer(K1), RENDER) as request:
        await request.payments.get_for_update(held_payment.id)  # a request holds the row
        report = await asyncio.wait_for(rotation(own_engine, BOTH, max_passes=1).run(), timeout=60)
        assert report.remaining == 1  # the held row, with three values
        assert report.key_usage == {"k2": seeded.values - 3, "k1": 3}
    report = await rotation(own_engine, BOTH).run()
    assert report.remaining == 0 and report.key_usage == {"k2": seeded.values}
    await assert_readable_with(own_engine, K2, seeded)


async def test_a_value_under_an_unknown_key_is_reported_and_the_rest_rotated(
    own_engine: AsyncEngine,
) -> None:
    seeded = await seed(own_engine, K1)
    lost = f"k0:{new_key()}"
    stranger, _ = await store_refunded_payment(own_engine, sealer(lost), PersonalData.unique())

    report = await rotation(own_engine, BOTH).run()

    assert len(report.unreadable) == 2  # the payment row and its refund row
    assert any(
        f"of row {stranger.id}: sealed with key 'k0', which is not in the key ring" in message
        for message in report.unreadable
    )
    assert report.remaining == 2  # rows
    assert report.key_usage == {"k2": seeded.values, "k0": VALUES_PER_PAYMENT}
    await assert_readable_with(own_engine, K2, seeded)


async def test_reindex_recomputes_blind_indexes_under_a_new_key(own_engine: AsyncEngine) -> None:
    seeded = await seed(own_engine, K1, payments=1)
    new_index_key = new_key()
    method, data = seeded.methods[0]
    async with SqlUnitOfWork(own_engine, sealer(K1, new_index_key), RENDER) as uow:
        assert await uow.payment_methods.find_by_paypal_email(data.email) == []

    report = await rotation(own_engine, K1, new_index_key).run(reindex=True)

    assert report.remaining == 0 and rewrapped(report) == 0
    async with SqlUnitOfWork(own_engine, sealer(K1, new_index_key), RENDER) as uow:
        found = await uow.payment_methods.find_by_gateway_customer("PAYPAL", data.customer)
        assert [m.id for m in found] == [method.id]
    async with SqlUnitOfWork(own_engine, sealer(K1), RENDER) as uow:
        assert await uow.payment_methods.find_by_paypal_email(data.email) == []
