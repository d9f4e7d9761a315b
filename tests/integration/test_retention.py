"""Retention against a database of its own: what is older than its policy is dropped or
anonymised, what is newer is untouched, and amounts, statuses and transactions stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit_chain import ChainedEntry, PendingEntry
from domain.errors import ConcurrentModification
from domain.retention import RetentionPolicy, RetentionReport, enforce_retention
from infra.db.audit import SqlAuditReader
from infra.db.retention import SqlRetentionStore
from infra.db.tables import payments, webhook_events
from infra.db.uow import SqlUnitOfWork
from tests.support.encryption import sealer_for
from tests.support.sensitive_rows import (
    PersonalData,
    now,
    paypal_method,
    record_webhook,
    store_method,
    store_refunded_payment,
    webhook_receipt,
)
from tests.support.wire import RENDER

SEALER = sealer_for()
YEARS_AGO = timedelta(days=8 * 365)


def policy(batch_size: int = 1) -> RetentionPolicy:
    return RetentionPolicy(
        webhook_payloads=timedelta(days=90),
        personal_data=timedelta(days=2557),
        audit_log=timedelta(days=365),
        batch_size=batch_size,
    )


async def payload_of(engine: AsyncEngine, event_id: str) -> bytes | None:
    async with engine.connect() as conn:
        query = select(webhook_events.c.payload).where(webhook_events.c.event_id == event_id)
        return (await conn.execute(query)).scalar_one()


async def anonymisations(engine: AsyncEngine, payment_id: str) -> list[ChainedEntry | PendingEntry]:
    """The payment's audit entries written by the retention job (the payment's own history,
    written as the test stored it, comes before)."""
    entries = await SqlAuditReader(engine).for_resource("payment", payment_id)
    return [e for e in entries if e.entry.action == "payment.anonymize"]


async def test_old_personal_data_goes_and_the_money_trail_stays(own_engine: AsyncEngine) -> None:
    moment = now()
    old, old_refund = await store_refunded_payment(
        own_engine, SEALER, PersonalData.unique(), created_at=moment - YEARS_AGO
    )
    recent, recent_refund = await store_refunded_payment(
        own_engine, SEALER, PersonalData.unique(), created_at=moment - timedelta(days=1)
    )

    report = await enforce_retention(policy(), SqlRetentionStore(own_engine), moment)

    assert report == RetentionReport(payments_anonymised=1)
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        after = await uow.payments.get(old.id)
        refund_after = await uow.refunds.get(old_refund.id)
        assert await uow.payments.get(recent.id) == recent
        assert await uow.refunds.get(recent_refund.id) == recent_refund
    assert (after.metadata, after.description, after.gateway_customer_id) == ({}, "", None)
    assert (after.authentication.return_url, after.country, after.payment_method_token) == (
        "",
        "",
        None,
    )
    assert (after.user_id, after.status, after.amount) == (old.user_id, old.status, old.amount)
    assert (
        after.amounts.authorized.amount_minor,
        after.amounts.captured.amount_minor,
        after.amounts.refunded.amount_minor,
    ) == (
        5000,
        5000,
        1500,
    )
    assert after.transactions == old.transactions and after.version == old.version + 1
    assert (refund_after.reason, refund_after.requested_by) == ("", "")
    assert (refund_after.amount, refund_after.status) == (old_refund.amount, old_refund.status)
    async with own_engine.connect() as conn:
        marked = await conn.execute(
            select(payments.c.id).where(payments.c.anonymized_at.is_not(None))
        )
        assert marked.scalars().all() == [old.id]
    [audited] = await anonymisations(own_engine, old.id)
    assert (audited.entry.action, audited.entry.actor_kind) == ("payment.anonymize", "system")

    again = await enforce_retention(policy(), SqlRetentionStore(own_engine), moment)
    assert not again
    assert len(await anonymisations(own_engine, old.id)) == 1


async def test_a_request_that_read_the_payment_before_cannot_write_its_data_back(
    own_engine: AsyncEngine,
) -> None:
    old, _ = await store_refunded_payment(
        own_engine, SEALER, PersonalData.unique(), created_at=now() - YEARS_AGO
    )
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        stale = await uow.payments.get(old.id)
    await enforce_retention(policy(), SqlRetentionStore(own_engine), now())
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        await uow.payments.save(stale)
        with pytest.raises(ConcurrentModification):
            await uow.commit()


async def test_old_webhook_payloads_are_dropped_and_their_receipts_kept(
    own_engine: AsyncEngine,
) -> None:
    old = webhook_receipt(PersonalData.unique(), now() - timedelta(days=91))
    recent = webhook_receipt(PersonalData.unique(), now() - timedelta(days=89))
    for receipt in (old, recent):
        await record_webhook(own_engine, SEALER, receipt)

    report = await enforce_retention(policy(), SqlRetentionStore(own_engine), now())

    assert report == RetentionReport(webhook_payloads_dropped=1)
    assert await payload_of(own_engine, old.event_id) is None
    assert await payload_of(own_engine, recent.event_id) is not None
    assert not await record_webhook(own_engine, SEALER, old)  # still deduplicated


async def test_long_deleted_methods_are_anonymised_live_ones_kept(own_engine: AsyncEngine) -> None:
    long_deleted = paypal_method(PersonalData.unique(), deleted_at=now() - YEARS_AGO)
    just_deleted = paypal_method(PersonalData.unique(), deleted_at=now() - timedelta(days=1))
    live = paypal_method(PersonalData.unique())
    for method in (long_deleted, just_deleted, live):
        await store_method(own_engine, SEALER, method)

    report = await enforce_retention(policy(), SqlRetentionStore(own_engine), now())

    assert report == RetentionReport(payment_methods_anonymised=1)
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        gone = await uow.payment_methods.find_by_paypal_email(long_deleted.paypal_email or "")
        kept = await uow.payment_methods.find_by_paypal_email(just_deleted.paypal_email or "")
        assert await uow.payment_methods.get(live.id) == live
    assert gone == [] and [m.id for m in kept] == [just_deleted.id]


async def test_replicas_running_retention_at_once_share_the_rows(own_engine: AsyncEngine) -> None:
    for _ in range(6):
        await store_refunded_payment(
            own_engine, SEALER, PersonalData.unique(), created_at=now() - YEARS_AGO
        )
        await record_webhook(
            own_engine, SEALER, webhook_receipt(PersonalData.unique(), now() - timedelta(days=200))
        )
    store = SqlRetentionStore(own_engine)
    reports = await asyncio.gather(*(enforce_retention(policy(2), store, now()) for _ in range(3)))
    assert sum(r.payments_anonymised for r in reports) == 6
    assert sum(r.webhook_payloads_dropped for r in reports) == 6
    assert not await enforce_retention(policy(2), store, now())
