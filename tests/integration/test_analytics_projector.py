"""The analytics projector against real PostgreSQL (a database of the test's own): each
committed event counted once, by concurrent projectors too; a row that commits late still
counted; the purge keeps what is not projected; the reports read the buckets; the trigger
kept payments-per-status counts equal to a count of the payments."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.analytics import Granularity, StatsDimension, period_of
from domain.enums import PaymentMethodType, PaymentStatus
from domain.events import (
    DomainEvent,
    PaymentAuthorized,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
)
from domain.money import Money
from infra.currency import iso4217_catalog
from infra.db.analytics_projector import AnalyticsProjector
from infra.db.analytics_reader import SqlAnalyticsReader
from infra.db.tables import STATUS_COUNT_COLUMNS
from infra.messaging.relay import KafkaProducerConfig, OutboxRelay
from server.events_wire import EventRenderer

RENDER = EventRenderer("/tests", iso4217_catalog().exponent)
DAY = datetime(2031, 3, 4, tzinfo=UTC)
CARD = PaymentMethodType.CREDIT_CARD

_PAYMENT = text(
    "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
    " payment_method_type, gateway, country, retry_count, created_at, updated_at)"
    " VALUES (:id, :order, :user, 1000, :currency, :status, 'CREDIT_CARD', :gateway, 'DE',"
    " :retries, now(), now())"
)
_OUTBOX = text(
    "INSERT INTO outbox (id, event_type, aggregate_id, message_key, value, headers, created_at)"
    " VALUES (:id, :type, :payment, :key, :value, '[]', :at)"
)


async def _payment(
    engine: AsyncEngine, currency: str, gateway: str = "simulator", retries: int = 0
) -> str:
    pid = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            _PAYMENT,
            {"id": pid, "order": str(uuid.uuid4()), "user": str(uuid.uuid4()),
             "currency": currency, "status": "PENDING", "gateway": gateway, "retries": retries},
        )  # fmt: skip
    return pid


def _params(event: DomainEvent) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "type": event.event_type,
        "payment": event.payment_id,
        "key": event.order_id,
        "value": RENDER(event).value,
        "at": event.occurred_at,
    }


async def _write(engine: AsyncEngine, events: Sequence[DomainEvent]) -> None:
    async with engine.begin() as conn:
        for event in events:
            await conn.execute(_OUTBOX, _params(event))


def _authorized(pid: str, at: datetime, amount: int, currency: str) -> PaymentAuthorized:
    return PaymentAuthorized(str(uuid.uuid4()), pid, pid, at, Money(amount, currency), CARD, "t")


def _captured(pid: str, at: datetime, amount: int, currency: str) -> PaymentSucceeded:
    return PaymentSucceeded(
        str(uuid.uuid4()), pid, pid, at, Money(amount, currency), CARD, "t",
        settlement=Money(amount * 2, "USD"), exchange_rate=None,
    )  # fmt: skip


def _failed(pid: str, at: datetime, code: str, attempt: int = 0) -> PaymentFailed:
    return PaymentFailed(str(uuid.uuid4()), pid, pid, at, "declined", code, attempt)


async def _drain(*projectors: AnalyticsProjector) -> None:
    while sum(await asyncio.gather(*(p.project_once() for p in projectors))):
        pass


async def test_concurrent_projectors_count_each_event_once(own_engine: AsyncEngine) -> None:
    events: list[DomainEvent] = []
    expected: Counter[str] = Counter()
    for n in range(120):
        at = DAY + timedelta(hours=n % 30, minutes=n % 60)
        pid = await _payment(own_engine, "EUR")
        if n % 3 == 0:
            events.append(_failed(pid, at, "CARD_DECLINED" if n % 2 else "INSUFFICIENT_FUNDS"))
            expected["failed"] += 1
        else:
            events.append(_authorized(pid, at, 100, "EUR"))
            events.append(_captured(pid, at, 100, "EUR"))
            expected["authorized"] += 1
            expected["captured"] += 1
    await _write(own_engine, events)
    projectors = [AnalyticsProjector(own_engine, RENDER, batch_size=25) for _ in range(3)]
    await _drain(*projectors)

    reader = SqlAnalyticsReader(own_engine)
    period = period_of(DAY, DAY + timedelta(days=2), Granularity.DAY)
    report = await reader.payment_stats(period, ())
    total = report.total
    assert (total.attempts, total.authorized, total.captured, total.failed) == (
        expected["authorized"] + expected["failed"],
        expected["authorized"],
        expected["captured"],
        expected["failed"],
    )
    assert [b.start for b in report.buckets] == [DAY, DAY + timedelta(days=1)]
    assert dict(total.top_decline_codes()) == {"CARD_DECLINED": 20, "INSUFFICIENT_FUNDS": 20}
    revenue = await reader.revenue(period)
    assert [(m.currency, m.captured_minor, m.net_minor) for m in revenue.totals] == [
        ("EUR", 100 * expected["captured"], 100 * expected["captured"])
    ]
    assert [(m.currency, m.captured_minor) for m in revenue.settlement_totals] == [
        ("USD", 200 * expected["captured"])
    ]
    async with own_engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM outbox WHERE projected_at IS NULL"))
    assert left == 0


async def test_an_event_committed_late_is_still_counted(own_engine: AsyncEngine) -> None:
    """Outbox rows commit out of order: one written earlier (older created_at) but committed
    after a later one was projected must not be stepped over."""
    hour = DAY + timedelta(days=10)
    early, late = await _payment(own_engine, "JPY"), await _payment(own_engine, "JPY")
    projector = AnalyticsProjector(own_engine, RENDER)
    async with own_engine.connect() as slow:
        transaction = await slow.begin()
        await slow.execute(_OUTBOX, _params(_captured(early, hour, 500, "JPY")))
        await _write(own_engine, [_captured(late, hour + timedelta(minutes=5), 700, "JPY")])
        await _drain(projector)
        await transaction.commit()
    await _drain(projector)
    period = period_of(hour, hour + timedelta(hours=1), Granularity.HOUR)
    revenue = await SqlAnalyticsReader(own_engine).revenue(period)
    assert [(m.currency, m.captured_minor) for m in revenue.totals] == [("JPY", 1200)]


async def test_retries_groups_and_refunds(own_engine: AsyncEngine) -> None:
    hour = DAY + timedelta(days=20, hours=7)
    retried = await _payment(own_engine, "GBP", gateway="stripe", retries=1)
    plain = await _payment(own_engine, "GBP", gateway="paypal")
    await _write(
        own_engine,
        [
            _failed(retried, hour, "PROCESSING_ERROR"),
            _authorized(retried, hour + timedelta(minutes=1), 300, "GBP"),
            _authorized(plain, hour + timedelta(minutes=2), 400, "GBP"),
            _captured(plain, hour + timedelta(minutes=3), 400, "GBP"),
            PaymentRefunded(
                str(uuid.uuid4()),
                plain,
                plain,
                hour + timedelta(minutes=4),
                "r",
                Money(150, "GBP"),
                "t",
            ),
        ],
    )
    await _drain(AnalyticsProjector(own_engine, RENDER))
    reader = SqlAnalyticsReader(own_engine)
    period = period_of(hour, hour + timedelta(minutes=1), Granularity.HOUR)
    report = await reader.payment_stats(period, (StatsDimension.GATEWAY,))
    by_gateway = {b.group[StatsDimension.GATEWAY]: b.counts for b in report.buckets}
    stripe, paypal = by_gateway["stripe"], by_gateway["paypal"]
    assert (stripe.attempts, stripe.authorized, stripe.failed) == (2, 1, 1)
    assert (stripe.retry_attempts, stripe.retry_authorized) == (1, 1)
    assert stripe.success_rate == 0.5
    assert (paypal.attempts, paypal.captured, paypal.retry_attempts) == (1, 1, 0)
    assert report.total.retry_success_rate == 1.0
    # Two dimensions read every combination's rows: the same figures.
    both = await reader.payment_stats(period, (StatsDimension.GATEWAY, StatsDimension.CURRENCY))
    pairs = {(b.group[StatsDimension.GATEWAY], b.group[StatsDimension.CURRENCY]): b.counts
             for b in both.buckets}  # fmt: skip
    assert pairs == {("stripe", "GBP"): stripe, ("paypal", "GBP"): paypal}
    by_code = await reader.payment_stats(period, (StatsDimension.FAILURE_CODE,))
    assert {b.group[StatsDimension.FAILURE_CODE]: b.counts.failed for b in by_code.buckets} == {
        "": 0,
        "PROCESSING_ERROR": 1,
    }
    revenue = await reader.revenue(period)
    assert [(m.captured_minor, m.refunded_minor, m.net_minor) for m in revenue.totals] == [
        (400, 150, 250)
    ]


async def test_the_purge_keeps_published_rows_until_projected(own_engine: AsyncEngine) -> None:
    pid = await _payment(own_engine, "CHF")
    await _write(own_engine, [_captured(pid, DAY, 100, "CHF")])
    async with own_engine.begin() as conn:
        await conn.execute(text("UPDATE outbox SET published_at = now() - interval '2 days'"))
    relay = OutboxRelay(own_engine, KafkaProducerConfig([], "tests"), topic="t", render=RENDER)
    cutoff = datetime.now(UTC) - timedelta(days=1)
    assert await relay.purge(cutoff) == 0  # published, not projected: kept
    await _drain(AnalyticsProjector(own_engine, RENDER))
    assert await relay.purge(cutoff) >= 1


async def test_payments_by_status_counts_follow_every_change(own_engine: AsyncEngine) -> None:
    ids = [await _payment(own_engine, "EUR") for _ in range(6)]
    async with own_engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET status = 'AUTHORIZED' WHERE id = ANY(:ids)"),
            {"ids": ids[:4]},
        )
        await conn.execute(
            text("UPDATE payments SET status = 'CAPTURED' WHERE id = ANY(:ids)"), {"ids": ids[:2]}
        )
        await conn.execute(text("DELETE FROM payments WHERE id = :id"), {"id": ids[5]})
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in STATUS_COUNT_COLUMNS)
    counts = text(f"SELECT {sums} FROM payment_status_counts")
    scan = text("SELECT status, count(*) FROM payments GROUP BY status")
    async with own_engine.connect() as conn:
        row = (await conn.execute(counts)).one()._mapping
        scanned: dict[str, int] = {s: n for s, n in (await conn.execute(scan)).all()}
    counted = {str(c).upper(): int(n) for c, n in row.items() if n}
    assert counted == scanned
    assert set(STATUS_COUNT_COLUMNS) == {s.value.lower() for s in PaymentStatus}


def _dispute_row(pid: str, event_type: str, at: datetime, **fields: object) -> dict[str, object]:
    value = {"timestamp": at.isoformat().replace("+00:00", "Z"), "currency": "EUR"} | fields
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "payment": pid,
        "key": pid,
        "value": json.dumps(value).encode(),
        "at": at,
    }


async def test_dispute_stats_and_the_dispute_ratio(own_engine: AsyncEngine) -> None:
    """Three captures and two disputes in the period, one lost in it; one dispute opened
    before the period and still open at its end."""
    start = DAY + timedelta(days=40)
    pids = [await _payment(own_engine, "EUR") for _ in range(4)]
    events = [_captured(pid, start + timedelta(hours=1), 1000, "EUR") for pid in pids[:3]]
    await _write(own_engine, events)
    rows = [
        _dispute_row(pids[3], "payment.disputed", start - timedelta(days=1), amountMinor=300),
        _dispute_row(pids[0], "payment.disputed", start + timedelta(hours=2), amountMinor=1000),
        _dispute_row(pids[1], "payment.disputed", start + timedelta(hours=3), amountMinor=400),
        _dispute_row(
            pids[0],
            "payment.dispute_closed",
            start + timedelta(hours=5),
            amountMinor=1000,
            outcome="LOST",
        ),
    ]
    async with own_engine.begin() as conn:
        for row in rows:
            await conn.execute(_OUTBOX, row)
    await _drain(AnalyticsProjector(own_engine, RENDER))
    reader = SqlAnalyticsReader(own_engine)
    period = period_of(start, start + timedelta(days=1), Granularity.HOUR)
    stats = await reader.dispute_stats(period)
    assert (stats.opened, stats.won, stats.lost, stats.open) == (2, 0, 1, 2)
    assert stats.captured_payments == 3
    assert stats.dispute_ratio == 2 / 3
    [eur] = stats.amounts
    assert (eur.opened_minor, eur.lost_minor, eur.open_minor) == (1400, 1000, 700)
    revenue = await reader.revenue(period_of(start, start + timedelta(days=1), Granularity.DAY))
    [money] = revenue.totals
    assert (money.captured_minor, money.disputed_minor, money.dispute_lost_minor) == (
        3000,
        1400,
        1000,
    )
    assert money.net_minor == 2000


async def test_an_unreadable_event_is_left_out_not_blocking(own_engine: AsyncEngine) -> None:
    hour = DAY + timedelta(days=50)
    pid = await _payment(own_engine, "EUR")
    good = _params(_captured(pid, hour, 100, "EUR"))
    bad = _params(_captured(pid, hour, 100, "EUR")) | {"value": b"{not json"}
    async with own_engine.begin() as conn:
        await conn.execute(_OUTBOX, bad)
        await conn.execute(_OUTBOX, good)
    await _drain(AnalyticsProjector(own_engine, RENDER))
    period = period_of(hour, hour + timedelta(hours=1), Granularity.HOUR)
    revenue = await SqlAnalyticsReader(own_engine).revenue(period)
    assert [m.captured_minor for m in revenue.totals] == [100]
