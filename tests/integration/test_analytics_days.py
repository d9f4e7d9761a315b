"""Reports by day split by two dimensions or more read the day rows of their grouping
(analytics_payment_days): against real PostgreSQL, their answers equal the summed hour rows
of every combination (what those reports read before), for every grouping, with and without
the failure code, in any order of group_by, on whole and partial periods."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from itertools import combinations, permutations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.analytics import Granularity, StatsDimension, period_of
from domain.enums import PaymentMethodType
from domain.events import DomainEvent, PaymentAuthorized, PaymentFailed, PaymentSucceeded
from domain.money import Money
from infra.currency import iso4217_catalog
from infra.db.analytics_projector import AnalyticsProjector
from infra.db.analytics_reader import SqlAnalyticsReader, combinations_query, days_query
from server.events_wire import EventRenderer

RENDER = EventRenderer("/tests", iso4217_catalog().exponent)
START = datetime(2032, 5, 10, tzinfo=UTC)
DAYS = 4
SLICED = (
    StatsDimension.GATEWAY,
    StatsDimension.PAYMENT_METHOD_TYPE,
    StatsDimension.CURRENCY,
    StatsDimension.COUNTRY,
)
_PAYMENT = text(
    "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,"
    " payment_method_type, gateway, country, retry_count, created_at, updated_at)"
    " VALUES (:id, :order, :user, 1000, :currency, 'PENDING', :method, :gateway, :country,"
    " :retries, now(), now())"
)
_OUTBOX = text(
    "INSERT INTO outbox (id, event_type, aggregate_id, message_key, value, headers, created_at)"
    " VALUES (:id, :type, :payment, :key, :value, '[]', :at)"
)
DAY = Granularity.DAY
CODES = ("CARD_DECLINED", "INSUFFICIENT_FUNDS", "EXPIRED_CARD")


async def _seed(engine: AsyncEngine, count: int) -> None:
    """`count` payments of random dimensions, each authorized and captured, authorized
    only, or declined (some after a declined try), at random times over DAYS days."""
    chance = random.Random(26)
    events: list[DomainEvent] = []
    async with engine.begin() as conn:
        for _ in range(count):
            pid = str(uuid.uuid4())
            currency = chance.choice(("EUR", "USD", "GBP"))
            method = chance.choice(("CREDIT_CARD", "DEBIT_CARD"))
            retried = chance.random() < 0.2
            await conn.execute(
                _PAYMENT,
                {"id": pid, "order": str(uuid.uuid4()), "user": str(uuid.uuid4()),
                 "currency": currency, "method": method,
                 "gateway": chance.choice(("simulator", "stripe", "paypal")),
                 "country": chance.choice(("DE", "FR", "US")), "retries": int(retried)},
            )  # fmt: skip
            at = START + timedelta(minutes=chance.randrange(DAYS * 24 * 60))
            card = PaymentMethodType(method)
            if retried:
                events.append(_failed(pid, at, chance.choice(CODES), 0))
                at += timedelta(minutes=1)
            outcome = chance.random()
            if outcome < 0.25:
                events.append(_failed(pid, at, chance.choice(CODES), int(retried)))
                continue
            money = Money(1000, currency)
            events.append(PaymentAuthorized(str(uuid.uuid4()), pid, pid, at, money, card, "t"))
            if outcome < 0.85:
                events.append(
                    PaymentSucceeded(str(uuid.uuid4()), pid, pid, at + timedelta(minutes=2),
                                     money, card, "t", settlement=None, exchange_rate=None)
                )  # fmt: skip
        for event in events:
            await conn.execute(
                _OUTBOX,
                {"id": str(uuid.uuid4()), "type": event.event_type, "payment": event.payment_id,
                 "key": event.order_id, "value": RENDER(event).value, "at": event.occurred_at},
            )  # fmt: skip


def _failed(pid: str, at: datetime, code: str, attempt: int) -> PaymentFailed:
    return PaymentFailed(str(uuid.uuid4()), pid, pid, at, "declined", code, attempt)


async def _drain(*projectors: AnalyticsProjector) -> None:
    while sum(await asyncio.gather(*(p.project_once() for p in projectors))):
        pass


def _groupings() -> list[tuple[StatsDimension, ...]]:
    """Every grouping of two dimensions or more, with and without the failure code, and
    some in another order than the table's."""
    found: list[tuple[StatsDimension, ...]] = []
    for size in range(2, len(SLICED) + 1):
        for kept in combinations(SLICED, size):
            found.append(kept)
            found.append((StatsDimension.FAILURE_CODE, *kept))
    found.extend(list(permutations(SLICED[1:3]))[1:])
    found.append((StatsDimension.COUNTRY, StatsDimension.FAILURE_CODE, StatsDimension.GATEWAY))
    return found


async def test_day_rows_answer_as_the_summed_hour_rows(own_engine: AsyncEngine) -> None:
    await _seed(own_engine, 300)
    # Small batches from two projectors: each day row is added to many times.
    await _drain(*(AnalyticsProjector(own_engine, RENDER, batch_size=40) for _ in range(2)))
    reader = SqlAnalyticsReader(own_engine)
    periods = [
        period_of(START, START + timedelta(days=DAYS), DAY),
        # Widened to the whole days 2 and 3.
        period_of(START + timedelta(days=1, hours=5), START + timedelta(days=2, hours=1), DAY),
    ]
    checked = 0
    for period in periods:
        for group_by in _groupings():
            assert days_query(period, group_by) is not None  # the day rows are read
            from_days = await reader.payment_stats(period, group_by)
            from_hours = await reader.report_of(combinations_query(period, group_by), group_by)
            assert from_days == from_hours, group_by
            assert [b.start for b in from_days.buckets] == [b.start for b in from_hours.buckets]
            checked += len(from_days.buckets)
    assert checked > 1000  # the reports had groups to compare
    whole = await reader.payment_stats(periods[0], SLICED[:2])
    assert whole.total.attempts > 300
    assert whole.total.failed > 0 and whole.total.retry_attempts > 0
    assert whole.total.top_decline_codes()
    assert {b.start for b in whole.buckets} == {START + timedelta(days=d) for d in range(DAYS)}
