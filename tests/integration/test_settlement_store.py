"""Settlement in PostgreSQL: a converted payment, its capture and refunds round trip with
their settlement amounts and rate; a payment from before revision 0019 (no settlement) reads
as settled in its own currency; the database refuses refunds settling more than the capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import TransactionType
from domain.fx import RateSource
from domain.gateway import GatewayOutcome
from domain.money import Money
from domain.refund import Refund
from domain.settlement import Settlement
from infra.db.uow import SqlUnitOfWork
from tests.integration.test_repositories import SEALER, new_id, new_payment, store
from tests.support.wire import RENDER

OK = GatewayOutcome.succeeded("gw_1")
RATE_AS_OF = datetime(2026, 12, 7, 13, 10, tzinfo=UTC)


def in_usd(quote_id: str | None = None) -> Settlement:
    return Settlement(
        currency="USD",
        rate=Decimal("1.078779"),
        source=RateSource.ADMIN.value,
        as_of=RATE_AS_OF,
        presentment_exponent=2,
        exponent=2,
        markup_bps=50,
        fx_quote_id=quote_id,
    )


async def test_a_converted_payment_round_trips_with_its_settlements(engine: AsyncEngine) -> None:
    quote_id = new_id()
    payment = new_payment(10_000, "EUR")
    payment.settle_in(in_usd(quote_id))
    await store(engine, payment)
    uow = SqlUnitOfWork(engine, SEALER, RENDER)
    refund_id = new_id()
    async with uow:
        loaded = await uow.payments.get(payment.id)
        assert loaded.settlement == in_usd(quote_id)
        assert loaded.settlement_amount == Money(10_788, "USD")
        moment = datetime.now(UTC)
        txn = loaded.begin_authorization(transaction_id=new_id(), now=moment)
        loaded.record_authorization(txn.id, OK, moment, new_id())
        txn = loaded.begin_capture(transaction_id=new_id(), now=moment)
        loaded.record_capture(txn.id, OK, moment, new_id())
        txn = loaded.begin_refund(
            transaction_id=new_id(), refund_id=refund_id, now=moment, amount_minor=3_333
        )
        refund = Refund(refund_id, loaded.id, txn.id, txn.amount, "", "shop", moment, moment)
        await uow.payments.save(loaded)
        await uow.refunds.add(refund)
        loaded.record_refund(txn.id, OK, moment + timedelta(seconds=1), new_id())
        refund.mark_processed("re_1", moment, txn.settlement_amount)
        await uow.payments.save(loaded)
        await uow.refunds.save(refund)
        await uow.commit()
    async with uow:
        again = await uow.payments.get(payment.id)
        stored_refund = await uow.refunds.get(refund_id)
    assert (
        again.amounts.captured_settlement.amount_minor,
        again.amounts.refunded_settlement.amount_minor,
    ) == (10_788, 3_596)
    by_type = {t.type: t for t in again.transactions}
    capture, refund_txn = by_type[TransactionType.CAPTURE], by_type[TransactionType.REFUND]
    assert capture.settlement_amount == Money(10_788, "USD")
    # 33.33 EUR at 1.078779 is 35.9557... USD
    assert refund_txn.settlement_amount == Money(3_596, "USD")
    assert stored_refund.settlement_amount == Money(3_596, "USD")


async def test_a_payment_from_before_0019_settles_in_its_own_currency(
    engine: AsyncEngine,
) -> None:
    payment = new_payment(1_099, "EUR")
    await store(engine, payment)
    async with engine.begin() as conn:  # as revision 0018 left it
        await conn.execute(
            text(
                "UPDATE payments SET settlement_currency = NULL, settlement_amount_minor = NULL,"
                " exchange_rate = NULL, exchange_rate_source = NULL, exchange_rate_as_of = NULL,"
                " fx_markup_bps = NULL WHERE id = :id"
            ),
            {"id": payment.id},
        )
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        loaded = await uow.payments.get(payment.id)
    assert loaded.settlement is None
    assert loaded.settles == Settlement.identity("EUR", loaded.created_at)
    assert loaded.settlement_amount == Money(1_099, "EUR")


async def test_refunds_settling_more_than_the_capture_are_refused(engine: AsyncEngine) -> None:
    payment = new_payment(10_000, "EUR")
    payment.settle_in(in_usd())
    await store(engine, payment)
    with pytest.raises(IntegrityError, match="settlement_ordered"):
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE payments SET refunded_settlement_minor = 1 WHERE id = :id"),
                {"id": payment.id},
            )
