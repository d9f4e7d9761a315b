"""Migration 0011 on a database that already holds personal data in clear: the service
reads the old rows at once, and `rotate-keys` seals them and computes their blind indexes."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.idempotency import IdempotencyKey, KeyRecord, StoredAnswer
from infra.crypto.blind_index import HmacBlindIndexer
from infra.crypto.envelope import EnvelopeCipher, envelope_header
from infra.crypto.keyring import parse_key_ring
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.rotation import PLAINTEXT, KeyRotation
from infra.db.sealing import Sealer
from infra.db.tables import payment_methods, payments, refunds, webhook_events
from infra.db.uow import SqlUnitOfWork
from infra.db.webhooks import stored_webhook_payload
from server.migrate import alembic_config
from tests.support import databases
from tests.support.encryption import new_key, sealer_for
from tests.support.wire import RENDER

RING, INDEX_KEY = f"k1:{new_key()}", new_key()
EMAIL, CUSTOMER = "bob.before@example.com", "cus_before0011"
IDS = {name: str(uuid.uuid4()) for name in ("payment", "method", "txn", "refund", "user")}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def database_at_0010(admin_database_url: str) -> Iterator[tuple[str, str]]:
    """(libpq URL, SQLAlchemy URL) of a database migrated to 0010."""
    with databases.migrated_database(admin_database_url, "payments_0011", "0010") as url:
        yield url.replace("postgresql+asyncpg://", "postgresql://"), url


async def insert_plaintext_rows(libpq: str) -> None:
    conn = await asyncpg.connect(libpq)
    try:
        await conn.execute(
            "INSERT INTO payment_methods (id, user_id, type, gateway, token, paypal_email,"
            " gateway_customer_id, created_at, updated_at)"
            " VALUES ($1, $2, 'PAYPAL', 'PAYPAL', 'vault_1', $3, $4, $5, $5)",
            IDS["method"], IDS["user"], EMAIL, CUSTOMER, NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
            " payment_method_type, gateway, gateway_customer_id, description, metadata,"
            " cancellation_reason, created_at, updated_at)"
            " VALUES ($1, $2, $3, 700, 'EUR', 'CANCELLED', 'PAYPAL', 'PAYPAL', $4,"
            " 'Bob''s order', $5::jsonb, 'Bob cancelled', $6, $6)",
            IDS["payment"], str(uuid.uuid4()), IDS["user"], CUSTOMER,
            json.dumps({"email": EMAIL}), NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
            " payment_method_type, gateway, created_at, updated_at)"
            " VALUES ($1, $2, $3, 100, 'EUR', 'PENDING', 'PAYPAL', 'PAYPAL', $4, $4)",
            str(uuid.uuid4()),
            str(uuid.uuid4()),
            IDS["user"],
            NOW,
        )  # fmt: skip - no description nor metadata: NULL after 0011, nothing to seal
        await conn.execute(
            "INSERT INTO transactions (id, payment_id, type, status, amount_minor, currency,"
            " idempotency_key, created_at) VALUES ($1, $2, 'REFUND', 'SUCCEEDED', 100, 'EUR',"
            " $3, $4)",
            IDS["txn"], IDS["payment"], f"payments-{IDS['txn']}", NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refunds (id, payment_id, transaction_id, amount_minor, currency, reason,"
            " status, requested_at, created_at)"
            " VALUES ($1, $2, $3, 100, 'EUR', 'Bob asked', 'PROCESSED', $4, $4)",
            IDS["refund"], IDS["payment"], IDS["txn"], NOW,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO webhook_events (gateway, event_id, type, received_at, payload)"
            " VALUES ('STRIPE', 'evt_before', 'charge.refunded', $1, $2::jsonb)",
            NOW, json.dumps({"id": "evt_before", "email": EMAIL}),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO idempotency_keys (caller, method, key, fingerprint, state, claim_token,"
            " locked_until, answer_code, answer_body, created_at)"
            " VALUES ('c', 'm', 'k', 'fp', 'COMPLETED', $1, $2, 0, $3, $2)",
            str(uuid.uuid4()), NOW, b"answer for bob",
        )  # fmt: skip
    finally:
        await conn.close()


async def test_old_plaintext_rows_are_readable_after_0011_and_sealed_by_rotate_keys(
    database_at_0010: tuple[str, str],
) -> None:
    libpq, url = database_at_0010
    await insert_plaintext_rows(libpq)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = make_engine(url, pool_size=2)
    sealer = sealer_for(RING, INDEX_KEY)
    cipher = EnvelopeCipher(parse_key_ring(RING))
    rotation = KeyRotation(engine, cipher, HmacBlindIndexer(base64.b64decode(INDEX_KEY)))
    try:
        # 6 plaintext values on payments/methods/refunds + payload + answer.
        assert await rotation.key_usage() == {PLAINTEXT: 9}
        await assert_service_reads_them(engine, sealer)
        async with SqlUnitOfWork(engine, sealer, RENDER) as uow:  # no blind index before rotating
            assert await uow.payment_methods.find_by_paypal_email(EMAIL) == []

        report = await rotation.run()

        assert sum(t.sealed for t in report.tables) == 9 and report.remaining == 0
        assert report.key_usage == {"k1": 9}
        await assert_service_reads_them(engine, sealer)
        async with SqlUnitOfWork(engine, sealer, RENDER) as uow:
            found = await uow.payment_methods.find_by_gateway_customer("PAYPAL", CUSTOMER)
            assert [m.id for m in found] == [IDS["method"]]
            assert [m.id for m in await uow.payment_methods.find_by_paypal_email(EMAIL)] == [
                IDS["method"]
            ]
        async with engine.connect() as conn:
            raw = [
                *(await conn.execute(select(payments.c.metadata, payments.c.description))).all(),
                *(await conn.execute(select(payment_methods.c.paypal_email))).all(),
                *(await conn.execute(select(refunds.c.reason))).all(),
                *(await conn.execute(select(webhook_events.c.payload))).all(),
            ]
        values = [bytes(v) for row in raw for v in row if v is not None]
        assert len(values) == 5
        assert all(v.startswith(envelope_header("k1")) for v in values)
        assert not any(b"bob" in v.lower() for v in values)
    finally:
        await engine.dispose()


async def assert_service_reads_them(engine: AsyncEngine, sealer: Sealer) -> None:
    async with SqlUnitOfWork(engine, sealer, RENDER) as uow:
        payment = await uow.payments.get(IDS["payment"])
        method = await uow.payment_methods.get(IDS["method"])
        refund = await uow.refunds.get(IDS["refund"])
    assert payment.metadata == {"email": EMAIL} and payment.description == "Bob's order"
    assert payment.cancellation_reason == "Bob cancelled"
    assert payment.gateway_customer_id == CUSTOMER
    assert (method.paypal_email, method.gateway_customer_id) == (EMAIL, CUSTOMER)
    assert refund.reason == "Bob asked"
    async with engine.connect() as conn:
        row = (await conn.execute(select(webhook_events))).mappings().one()
    assert stored_webhook_payload(row, sealer) == {"id": "evt_before", "email": EMAIL}
    record = await SqlIdempotencyStore(engine, sealer).claim(
        IdempotencyKey("c", "m", "k"), "fp", NOW, timedelta(seconds=1)
    )
    assert isinstance(record, KeyRecord)
    assert record.answer == StoredAnswer(0, b"answer for bob")
