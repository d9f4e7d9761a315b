"""payments.v1.FxService end to end: a server of its own (markup 50 bps, quotes locked for 3 s,
rates usable for 6 s) on a database of its own, its ECB refresh job reading a local feed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import grpc
import httpx
import pytest

from domain.actor import Actor, ActorKind
from domain.errors import FxQuoteExpired, FxQuoteNotFound
from domain.usecases.fx import usable_quote
from payments.v1 import fx_service_pb2 as pb
from payments.v1.fx_service_pb2_grpc import FxServiceStub
from server.app import PaymentApplication
from tests.e2e.access_matrix import service_token, user_token
from tests.e2e.helpers import new_id, rpc_error
from tests.support import databases
from tests.support.channels import open_channel, rest_headers
from tests.support.ecb_feed import EcbFeedServer, reference_rates_xml
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

QUOTE_TTL = 3
MAX_RATE_AGE = 6
MARKUP_BPS = 50
# A reference day long past: the feed's rates are stored, and too old to be used.
FEED_DAY = date(2026, 12, 4)
READER = ("fx:read",)
QUOTER = ("fx:read", "fx:write")


@pytest.fixture(scope="module")
async def ecb_feed() -> AsyncIterator[EcbFeedServer]:
    feed = EcbFeedServer(reference_rates_xml(FEED_DAY))
    await feed.start()
    yield feed
    await feed.close()


@pytest.fixture(scope="module")
def fx_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_fx") as url:
        yield url


@pytest.fixture(scope="module")
async def fx_app(
    fx_database_url: str, ecb_feed: EcbFeedServer
) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(
            fx_ecb_url=ecb_feed.url,
            fx_markup_bps=MARKUP_BPS,
            fx_quote_ttl_seconds=QUOTE_TTL,
            fx_max_rate_age=MAX_RATE_AGE,
        ),
        fx_database_url,
    )
    await application.start()
    yield application
    await application.stop(grace=1)


@pytest.fixture
async def admin(fx_app: PaymentApplication) -> AsyncIterator[FxServiceStub]:
    async with open_channel(f"127.0.0.1:{fx_app.grpc_port}") as channel:
        yield FxServiceStub(channel)


def _as(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def test_set_get_list_and_quote(fx_app: PaymentApplication, admin: FxServiceStub) -> None:
    set_at = datetime.now(UTC)
    answer = await admin.SetExchangeRate(
        pb.SetExchangeRateRequest(
            request_id=new_id(), base_currency="EUR", quote_currency="USD", rate="1.0842"
        )
    )
    rate = answer.exchange_rate
    assert (rate.base_currency, rate.quote_currency, rate.rate, rate.source) == (
        "EUR",
        "USD",
        "1.0842",
        "admin",
    )
    assert abs(rate.as_of.ToDatetime(UTC) - set_at) < timedelta(seconds=5)

    shop = service_token(QUOTER)
    got = await admin.GetExchangeRate(
        pb.GetExchangeRateRequest(base_currency="EUR", quote_currency="USD"), metadata=_as(shop)
    )
    assert got.exchange_rate == rate

    request = pb.CreateFxQuoteRequest(
        request_id=new_id(),
        source_currency="EUR",
        target_currency="USD",
        source_amount_minor=10_000,
    )
    created = await admin.CreateFxQuote(request, metadata=_as(shop))
    quote = created.fx_quote
    # 1.0842 less 50 bps is 1.078779; 100.00 EUR is 107.8779 USD, 107.88 rounded half-even
    assert (quote.rate, quote.source_amount_minor, quote.target_amount_minor) == (
        "1.078779",
        10_000,
        10_788,
    )
    created_at = datetime.now(UTC)
    expire_time = quote.expire_time.ToDatetime(UTC)
    assert (
        timedelta(0) < expire_time - set_at <= timedelta(seconds=QUOTE_TTL) + (created_at - set_at)
    )

    # The same request again is the same quote (the idempotency interceptor)
    call = admin.CreateFxQuote(request, metadata=_as(shop))
    assert (await call).fx_quote == quote
    assert ("idempotent-replayed", "true") in tuple(await call.trailing_metadata())

    # Locked until expire_time, for the caller that asked; then expired
    owner = Actor(ActorKind.SERVICE, "orders-service", frozenset(QUOTER))
    stranger = Actor(ActorKind.SERVICE, "another-service", frozenset(QUOTER))
    assert fx_app.deps is not None
    deps = fx_app.deps(owner)
    async with deps.uow:
        found = await usable_quote(deps, quote.fx_quote_id, expire_time - timedelta(microseconds=1))
        assert found.target_amount_minor == 10_788
        with pytest.raises(FxQuoteExpired):
            await usable_quote(deps, quote.fx_quote_id, expire_time)
    other = fx_app.deps(stranger)
    async with other.uow:
        with pytest.raises(FxQuoteNotFound):
            await usable_quote(other, quote.fx_quote_id, expire_time - timedelta(seconds=1))

    listed = await admin.ListExchangeRates(pb.ListExchangeRatesRequest(page_size=500))
    assert rate in listed.exchange_rates


async def test_the_feed_is_refreshed_and_its_stale_rates_refused(
    admin: FxServiceStub, ecb_feed: EcbFeedServer
) -> None:
    async def feed_stored() -> bool:
        listed = await admin.ListExchangeRates(pb.ListExchangeRatesRequest(page_size=500))
        return any(r.source == "ecb" for r in listed.exchange_rates)

    await eventually(feed_stored, within=30)
    assert ecb_feed.requests >= 1
    listed = await admin.ListExchangeRates(pb.ListExchangeRatesRequest(page_size=2))
    second = await admin.ListExchangeRates(
        pb.ListExchangeRatesRequest(page_size=500, page_token=listed.next_page_token)
    )
    feed = {
        r.quote_currency: r
        for r in [*listed.exchange_rates, *second.exchange_rates]
        if r.source == "ecb"
    }
    assert feed["JPY"].rate == "162.45"
    assert feed["JPY"].as_of.ToDatetime(UTC) == datetime(2026, 12, 4, 13, 10, tzinfo=UTC)

    # JPY is known only from the feed, and its rate is older than FX_MAX_RATE_AGE
    refused = await rpc_error(
        admin.GetExchangeRate(pb.GetExchangeRateRequest(base_currency="EUR", quote_currency="JPY"))
    )
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "FX_RATE_UNAVAILABLE",
    )
    refused = await rpc_error(
        admin.CreateFxQuote(
            pb.CreateFxQuoteRequest(
                source_currency="GBP", target_currency="JPY", source_amount_minor=100
            )
        )
    )
    assert refused.reason == "FX_RATE_UNAVAILABLE"


async def test_an_admin_rate_goes_stale(admin: FxServiceStub) -> None:
    await admin.SetExchangeRate(
        pb.SetExchangeRateRequest(base_currency="EUR", quote_currency="SEK", rate="11.2")
    )
    set_at = time.monotonic()
    get = pb.GetExchangeRateRequest(base_currency="SEK", quote_currency="EUR")
    fresh = await admin.GetExchangeRate(get)
    assert time.monotonic() - set_at < MAX_RATE_AGE  # else the check below proves nothing
    assert (fresh.exchange_rate.rate, fresh.exchange_rate.source) == (
        "0.0892857142857142857",
        "admin",
    )

    async def refused() -> bool:
        try:
            await admin.GetExchangeRate(get)
        except grpc.aio.AioRpcError as error:
            return error.code() is grpc.StatusCode.FAILED_PRECONDITION
        return False

    await eventually(refused, within=MAX_RATE_AGE + 20, interval=0.2)
    assert time.monotonic() - set_at >= MAX_RATE_AGE - 1


async def test_scopes(admin: FxServiceStub) -> None:
    get = pb.GetExchangeRateRequest(base_currency="EUR", quote_currency="USD")
    quote = pb.CreateFxQuoteRequest(
        source_currency="EUR", target_currency="USD", source_amount_minor=1
    )
    set_rate = pb.SetExchangeRateRequest(base_currency="EUR", quote_currency="USD", rate="1.1")
    without_fx = user_token(new_id())  # payments scopes, no fx ones
    reader, quoter = service_token(READER), service_token(QUOTER)
    for call, token, scope in (
        (
            admin.GetExchangeRate(get, metadata=_as(service_token(("payments:read",)))),
            None,
            "fx:read",
        ),
        (admin.CreateFxQuote(quote, metadata=_as(reader)), None, "fx:write"),
        (admin.SetExchangeRate(set_rate, metadata=_as(quoter)), None, "admin"),
        (admin.SetExchangeRate(set_rate, metadata=_as(without_fx)), None, "admin"),
    ):
        assert token is None
        denied = await rpc_error(call)
        assert (denied.code, denied.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "INSUFFICIENT_SCOPE",
        )
        assert denied.metadata == {"required_scope": scope}


async def test_invalid_input_names_every_bad_field(admin: FxServiceStub) -> None:
    bad = await rpc_error(
        admin.SetExchangeRate(
            pb.SetExchangeRateRequest(base_currency="eur", quote_currency="", rate="1e3")
        )
    )
    assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert set(bad.field_violations) == {"base_currency", "quote_currency", "rate"}
    bad = await rpc_error(
        admin.CreateFxQuote(
            pb.CreateFxQuoteRequest(
                source_currency="EUR", target_currency="EUR", source_amount_minor=-5
            )
        )
    )
    assert set(bad.field_violations) == {"target_currency", "source_amount_minor"}
    bad = await rpc_error(
        admin.GetExchangeRate(pb.GetExchangeRateRequest(base_currency="EUR", quote_currency="XAU"))
    )
    assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "UNSUPPORTED_CURRENCY")
    bad = await rpc_error(admin.ListExchangeRates(pb.ListExchangeRatesRequest(page_token="nope")))
    assert set(bad.field_violations) == {"page_token"}


async def test_over_rest(fx_app: PaymentApplication, admin: FxServiceStub) -> None:
    await admin.SetExchangeRate(
        pb.SetExchangeRateRequest(base_currency="EUR", quote_currency="CAD", rate="1.47")
    )
    base_url = f"http://127.0.0.1:{fx_app.rest_port}"
    headers = rest_headers(token=service_token(QUOTER))
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        got = await client.get("/api/v1/fx/rates/EUR/CAD")
        quoted = await client.post(
            "/api/v1/fx/quotes",
            json={
                "source_currency": "CAD",
                "target_currency": "EUR",
                "source_amount_minor": "14700",
            },
        )
    assert got.status_code == 200, got.text
    assert got.json()["exchange_rate"]["rate"] == "1.47"
    assert quoted.status_code == 200, quoted.text
    # 147.00 CAD at 1/1.47 less 50 bps: 99.50 EUR
    assert quoted.json()["fx_quote"]["target_amount_minor"] == "9950"
