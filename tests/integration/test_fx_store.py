"""FX rates and quotes against the real PostgreSQL, and the ECB feed against a local server
serving a document in the ECB's format."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor, ActorKind
from domain.commands import SetExchangeRate
from domain.fx import ExchangeRate, FxPolicy, FxQuote
from domain.pagination import PageRequest
from domain.usecases.deps import Deps
from domain.usecases.fx import refresh_rates, set_exchange_rate
from infra.currency import iso4217_catalog
from infra.db.uow import SqlUnitOfWork
from infra.fx.ecb import EcbFeedInvalid, EcbRateFeed, parse_reference_rates
from infra.system import SystemClock, UuidGenerator
from server.jobs import fx_refresh_job
from tests.support.ecb_feed import SAMPLE_RATES, EcbFeedServer, reference_rates_xml
from tests.support.encryption import sealer_for
from tests.support.polling import eventually, free_port
from tests.support.wire import RENDER
from tests.unit.fakes import FakeGateway, FakeGatewayDirectory

SEALER = sealer_for()
ADMIN = Actor(ActorKind.USER, "fx-admin", frozenset({"admin"}))
NOW = datetime.now(UTC)


def _deps(engine: AsyncEngine, actor: Actor) -> Deps:
    return Deps(
        SqlUnitOfWork(engine, SEALER, RENDER, actor),
        FakeGatewayDirectory(FakeGateway()),
        SystemClock(),
        UuidGenerator(),
        iso4217_catalog(),
        fx=FxPolicy(),
        actor=actor,
    )


def _rate(base: str, quote: str, value: str, source: str, as_of: datetime) -> ExchangeRate:
    return ExchangeRate(base, quote, Decimal(value), source, as_of, NOW)


async def test_a_sources_rate_is_replaced_only_by_a_newer_one(own_engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        assert await uow.fx_rates.put(_rate("EUR", "USD", "1.08", "ecb", NOW - timedelta(days=1)))
        assert await uow.fx_rates.put(_rate("EUR", "USD", "1.0842", "ecb", NOW))
        assert not await uow.fx_rates.put(_rate("EUR", "USD", "1.01", "ecb", NOW - timedelta(1)))
        assert await uow.fx_rates.put(_rate("EUR", "USD", "1.1", "admin", NOW - timedelta(1)))
        await uow.commit()
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        stored = sorted(await uow.fx_rates.rates_of("EUR", "USD"), key=lambda r: r.source)
    assert [(r.source, r.rate) for r in stored] == [
        ("admin", Decimal("1.1")),
        ("ecb", Decimal("1.0842")),
    ]
    assert stored[1].as_of == NOW


async def test_the_rates_among_currencies_are_one_read(own_engine: AsyncEngine) -> None:
    """What resolving GBP/USD may need (direct, inverted, crossed through EUR), in one
    statement, and nothing else."""
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        for base, quote in (("EUR", "GBP"), ("USD", "EUR"), ("GBP", "USD"), ("EUR", "SEK")):
            await uow.fx_rates.put(_rate(base, quote, "1.5", "admin", NOW))
        await uow.commit()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(own_engine.sync_engine, "before_cursor_execute", count)
    try:
        async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
            statements.clear()  # the transaction's BEGIN is not a statement counted here
            among = await uow.fx_rates.rates_among({"GBP", "USD", "EUR"})
    finally:
        event.remove(own_engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    pairs = {(r.base, r.quote) for r in among}
    assert {("EUR", "GBP"), ("USD", "EUR"), ("GBP", "USD")} <= pairs
    assert all({r.base, r.quote} <= {"GBP", "USD", "EUR"} for r in among)


async def test_rates_keep_every_digit_and_list_in_pages(own_engine: AsyncEngine) -> None:
    long_rate = "0.000123456789012345678"  # 18 significant digits, 21 decimals
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        for quote in ("USD", "GBP", "JPY"):
            await uow.fx_rates.put(_rate("EUR", quote, long_rate, "ecb", NOW))
        await uow.commit()
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        first = await uow.fx_rates.list(PageRequest.parse(2, ""))
        second = await uow.fx_rates.list(PageRequest.parse(2, first.next_page_token))
    assert [r.quote for r in first.items + second.items] == ["GBP", "JPY", "USD"]
    assert second.next_cursor is None
    assert {r.rate for r in first.items} == {Decimal(long_rate)}


async def test_a_quote_round_trips(engine: AsyncEngine) -> None:
    quote = FxQuote(
        id=str(uuid.uuid4()),
        owner="shop",
        source_currency="EUR",
        target_currency="USD",
        source_amount_minor=10_000,
        target_amount_minor=10_788,
        rate=Decimal("1.078779"),
        mid_rate=Decimal("1.0842"),
        rate_source="cross:ecb",
        rate_as_of=NOW - timedelta(hours=2),
        markup_bps=50,
        created_at=NOW,
        expire_time=NOW + timedelta(minutes=10),
    )
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        await uow.fx_quotes.add(quote)
        await uow.commit()
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        assert await uow.fx_quotes.get(quote.id) == quote
        assert await uow.fx_quotes.get(str(uuid.uuid4())) is None


async def test_an_admin_rate_leaves_an_audit_entry(engine: AsyncEngine) -> None:
    pair_base = "CHF"
    await set_exchange_rate(
        SetExchangeRate(pair_base, "SEK", "11.9321", "req"), _deps(engine, ADMIN)
    )
    async with engine.connect() as conn:
        payloads = (
            (
                await conn.execute(
                    text(
                        "SELECT payload FROM audit_pending WHERE payload LIKE '%fx_rate.set%' "
                        "AND payload LIKE '%CHF/SEK%' UNION ALL SELECT resource_id FROM audit_log "
                        "WHERE action = 'fx_rate.set' AND resource_id = 'CHF/SEK'"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(payloads) == 1


@pytest.fixture
async def ecb_server() -> AsyncIterator[EcbFeedServer]:
    server = EcbFeedServer(reference_rates_xml(date(2026, 12, 4)))
    await server.start()
    yield server
    await server.close()


async def test_the_feed_is_fetched_parsed_and_stored(
    own_engine: AsyncEngine, ecb_server: EcbFeedServer
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        feed = EcbRateFeed(client, ecb_server.url, SystemClock())
        assert await refresh_rates(feed, _deps(own_engine, ADMIN)) == len(SAMPLE_RATES)
        # The same document again: the same rates, stored again, nothing older wins
        assert await refresh_rates(feed, _deps(own_engine, ADMIN)) == len(SAMPLE_RATES)
    assert ecb_server.requests == 2
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        [usd] = await uow.fx_rates.rates_of("EUR", "USD")
        [jpy] = await uow.fx_rates.rates_of("EUR", "JPY")
    assert (usd.rate, usd.source) == (Decimal("1.0842"), "ecb")
    assert jpy.rate == Decimal("162.45")
    # 14:10 in Frankfurt on the reference day (CET in December: 13:10 UTC)
    assert usd.as_of == datetime(2026, 12, 4, 13, 10, tzinfo=UTC)
    async with own_engine.connect() as conn:
        audited = (
            await conn.execute(
                text("SELECT count(*) FROM audit_pending WHERE payload LIKE '%ecb%'")
            )
        ).scalar()
    assert audited == 0  # feed rates are reference data, not anyone's decision


async def test_a_failing_feed_changes_nothing(own_engine: AsyncEngine) -> None:
    server = EcbFeedServer(b"<html>maintenance</html>")
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            feed = EcbRateFeed(client, server.url, SystemClock())
            with pytest.raises(EcbFeedInvalid):
                await refresh_rates(feed, _deps(own_engine, ADMIN))
            missing = EcbRateFeed(client, server.url + "-missing", SystemClock())
            with pytest.raises(httpx.HTTPStatusError):
                await refresh_rates(missing, _deps(own_engine, ADMIN))
    finally:
        await server.close()
    async with SqlUnitOfWork(own_engine, SEALER, RENDER) as uow:
        assert (await uow.fx_rates.list(PageRequest.parse(10, ""))).items == []


@pytest.mark.parametrize(
    "document",
    [
        # billion laughs: an entity defined in a DTD
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><x>&lol;</x>',
        # an external entity
        b'<?xml version="1.0"?><!doctype x SYSTEM "file:///etc/passwd"><x/>',
        # not UTF-8
        '<?xml version="1.0" encoding="UTF-16"?><x/>'.encode("utf-16"),
        # no reference day, two reference days, a bad rate, a bad currency
        reference_rates_xml(date(2026, 12, 4), {}),
        reference_rates_xml(date(2026, 12, 4)).replace(
            b"</Cube>\n\t</Cube>", b"</Cube><Cube time='2026-12-03'/></Cube>"
        ),
        reference_rates_xml(date(2026, 12, 4), {"USD": "-1"}),
        reference_rates_xml(date(2026, 12, 4), {"usd": "1.08"}),
        reference_rates_xml(date(2026, 12, 4), {"USD": "NaN"}),
        b"x" * (300 * 1024),
    ],
)
def test_documents_that_are_not_reference_rates_are_refused(document: bytes) -> None:
    with pytest.raises(EcbFeedInvalid):
        parse_reference_rates(document, NOW)


async def test_an_unreachable_feed_is_one_warning_line_and_the_job_goes_on(
    own_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A machine without internet (`make run` offline): the job says so in one line, no
    traceback, and keeps its schedule."""
    url = f"http://127.0.0.1:{free_port()}/eurofxref-daily.xml"  # nothing listens there
    job = fx_refresh_job(url, lambda: _deps(own_engine, ADMIN), SystemClock(), interval=3600)
    with caplog.at_level(logging.WARNING, logger="payments.jobs"):
        job.start()
        try:

            async def warned() -> bool:
                return any("ECB feed could not be read" in r.message for r in caplog.records)

            await eventually(warned)
        finally:
            await job.stop()
    [record] = [r for r in caplog.records if r.name == "payments.jobs"]
    assert record.levelno == logging.WARNING and record.exc_info is None
