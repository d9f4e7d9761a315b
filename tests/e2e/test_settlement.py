"""Settlement in the merchant's currency, end to end: a server of its own (SETTLEMENT_CURRENCY
USD, FX_MARKUP_BPS 50, quotes locked for 3 s) on a database of its own. The issue's walk:
set EUR->USD, quote 100.00 EUR, pay with the quote in USD settlement, capture, refund part -
and the published events carry the settlement fields; without a quote the current rate
applies, without conversion nothing is read; every invalid request has its precise error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import text

from payments.v1 import fx_pb2
from payments.v1 import fx_service_pb2 as fpb
from payments.v1 import payment_service_pb2 as pb
from payments.v1.fx_service_pb2_grpc import FxServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.access_matrix import USER_SCOPES, service_token
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.e2e.test_statement_budget import IDLE, background_settled, measured
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

QUOTE_TTL = 3
MARKUP_BPS = 50


@pytest.fixture(scope="module")
def settle_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_settle") as url:
        yield url


@pytest.fixture(scope="module")
async def settle_app(settle_database_url: str) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(
            settlement_currency="USD",
            fx_markup_bps=MARKUP_BPS,
            fx_quote_ttl_seconds=QUOTE_TTL,
            # Background jobs idle: the statements counted belong to the calls.
            reconcile_interval_seconds=IDLE,
            retry_poll_interval_seconds=IDLE,
            idempotency_purge_interval_seconds=IDLE,
            retention_interval_seconds=IDLE,
            audit_link_interval_seconds=60,
            audit_link_lease_seconds=120,
        ),
        settle_database_url,
    )
    await application.start()
    yield application
    await application.stop(grace=1)


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.fx = FxServiceStub(channel)
        self.payments = PaymentServiceStub(channel)


@pytest.fixture
async def stubs(settle_app: PaymentApplication) -> AsyncIterator[Stubs]:
    async with open_channel(f"127.0.0.1:{settle_app.grpc_port}") as channel:
        stubs = Stubs(channel)
        await stubs.fx.SetExchangeRate(  # as an administrator
            fpb.SetExchangeRateRequest(
                request_id=new_id(), base_currency="EUR", quote_currency="USD", rate="1.0842"
            )
        )
        yield stubs


SHOP = (("authorization", f"Bearer {service_token(USER_SCOPES)}"),)


async def quote(stubs: Stubs, amount_minor: int = 10_000, metadata: Any = SHOP) -> fx_pb2.FxQuote:
    answer = await stubs.fx.CreateFxQuote(
        fpb.CreateFxQuoteRequest(
            request_id=new_id(),
            source_currency="EUR",
            target_currency="USD",
            source_amount_minor=amount_minor,
        ),
        metadata=metadata,
    )
    return answer.fx_quote


async def published(app: PaymentApplication, payment_id: str) -> list[dict[str, Any]]:
    """The payment's events as the outbox holds them, published form, in order."""
    assert app.engine is not None
    async with app.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT value FROM outbox WHERE aggregate_id = :id ORDER BY created_at"),
            {"id": payment_id},
        )
        return [json.loads(bytes(row.value), parse_float=Decimal) for row in rows]


async def test_pay_with_a_quote_capture_and_refund_part(
    settle_app: PaymentApplication, stubs: Stubs
) -> None:
    fx_quote = await quote(stubs)
    # 1.0842 less 50 bps is 1.078779: 100.00 EUR is 107.8779 USD, 107.88
    assert (fx_quote.rate, fx_quote.target_amount_minor) == ("1.078779", 10_788)
    created = await stubs.payments.CreatePayment(
        create_request(
            amount_minor=10_000,
            settlement_currency="USD",
            fx_quote_id=fx_quote.fx_quote_id,
            authorize=True,
        ),
        metadata=SHOP,
    )
    payment = created.payment
    assert (payment.amount_minor, payment.currency) == (10_000, "EUR")
    assert (payment.settlement_currency, payment.settlement_amount_minor) == ("USD", 10_788)
    assert (payment.exchange_rate, payment.exchange_rate_source) == ("1.078779", "admin")
    assert (payment.fx_markup_bps, payment.fx_quote_id) == (MARKUP_BPS, fx_quote.fx_quote_id)
    assert payment.exchange_rate_as_of.seconds > 0
    pid = payment.payment_id

    captured = (
        await stubs.payments.CapturePayment(
            pb.CapturePaymentRequest(payment_id=pid, request_id=new_id()), metadata=SHOP
        )
    ).payment
    assert captured.captured_settlement_amount_minor == 10_788
    capture = captured.transactions[-1]
    assert (capture.settlement_amount_minor, capture.settlement_currency) == (10_788, "USD")

    # 33.33 EUR at 1.078779 is 35.9557... USD: 35.96
    first = await stubs.payments.RefundPayment(
        pb.RefundPaymentRequest(payment_id=pid, amount_minor=3_333, request_id=new_id()),
        metadata=SHOP,
    )
    assert (first.refund.settlement_amount_minor, first.refund.settlement_currency) == (
        3_596,
        "USD",
    )
    assert first.payment.refunded_settlement_amount_minor == 3_596
    # The rest (66.67 EUR, 71.9222... USD) settles exactly what the capture left: 71.92
    rest = await stubs.payments.RefundPayment(
        pb.RefundPaymentRequest(payment_id=pid, request_id=new_id()), metadata=SHOP
    )
    assert rest.refund.settlement_amount_minor == 10_788 - 3_596
    assert rest.payment.refunded_settlement_amount_minor == 10_788

    got = await stubs.payments.GetPayment(pb.GetPaymentRequest(payment_id=pid), metadata=SHOP)
    assert got.payment.refunded_settlement_amount_minor == 10_788
    assert got.payment.exchange_rate == "1.078779"

    events = await published(settle_app, pid)
    settled = [
        (e["amountMinor"], e["settlementAmount"], e["settlementAmountMinor"], e["exchangeRate"])
        for e in events
    ]
    assert settled == [
        (10_000, Decimal("107.88"), 10_788, "1.078779"),  # authorized
        (10_000, Decimal("107.88"), 10_788, "1.078779"),  # captured
        (3_333, Decimal("35.96"), 3_596, "1.078779"),  # refunded
        (6_667, Decimal("71.92"), 7_192, "1.078779"),  # refunded
    ]
    assert {e["settlementCurrency"] for e in events} == {"USD"}


async def test_without_a_quote_the_current_rate_less_the_markup_applies(
    stubs: Stubs,
) -> None:
    created = await stubs.payments.CreatePayment(create_request(amount_minor=10_000))
    payment = created.payment  # SETTLEMENT_CURRENCY is USD
    assert (payment.settlement_currency, payment.settlement_amount_minor) == ("USD", 10_788)
    assert (payment.exchange_rate, payment.exchange_rate_source) == ("1.078779", "admin")
    assert (payment.fx_markup_bps, payment.fx_quote_id) == (MARKUP_BPS, "")


async def test_without_conversion_the_rate_is_one(stubs: Stubs) -> None:
    in_usd = (await stubs.payments.CreatePayment(create_request(currency="USD"))).payment
    kept = (
        await stubs.payments.CreatePayment(create_request(settlement_currency="EUR"))
    ).payment  # the request overrides SETTLEMENT_CURRENCY
    for payment in (in_usd, kept):
        assert payment.settlement_currency == payment.currency
        assert payment.settlement_amount_minor == payment.amount_minor == 1099
        assert (payment.exchange_rate, payment.exchange_rate_source) == ("1", "identity")
        assert payment.fx_markup_bps == 0


async def test_a_conversion_costs_at_most_one_read_and_none_without(
    settle_app: PaymentApplication, stubs: Stubs
) -> None:
    await eventually(lambda: background_settled(settle_app), within=30)
    fx_quote = await quote(stubs)
    calls = {
        "identity": create_request(currency="USD"),
        "rates": create_request(amount_minor=10_000),
        "quote": create_request(amount_minor=10_000, fx_quote_id=fx_quote.fx_quote_id),
    }
    used = {}
    for name, request in calls.items():

        async def create(request: pb.CreatePaymentRequest = request) -> None:
            await stubs.payments.CreatePayment(request, metadata=SHOP)

        count = await measured(settle_app, create)
        used[name] = (count.statements, count.transactions)
    # The budget of CreatePayment (tests/e2e/test_statement_budget.py) is 1 statement alone;
    # a conversion adds one read, alone too (the write is guarded by what it read: the
    # quote's expiry, or the rates, are checked in the process).
    assert used == {"identity": (1, 0), "rates": (2, 0), "quote": (2, 0)}


async def error_of(stubs: Stubs, **fields: Any) -> Any:
    return await rpc_error(stubs.payments.CreatePayment(create_request(**fields), metadata=SHOP))


async def test_invalid_settlements_have_precise_errors(stubs: Stubs) -> None:
    unknown = await error_of(stubs, fx_quote_id=new_id())
    assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "FX_QUOTE_NOT_FOUND")

    # Another caller's quote is not found either (here an administrator's)
    foreign = await quote(stubs, metadata=None)
    other = await error_of(stubs, amount_minor=10_000, fx_quote_id=foreign.fx_quote_id)
    assert (other.code, other.reason) == (grpc.StatusCode.NOT_FOUND, "FX_QUOTE_NOT_FOUND")

    fx_quote = await quote(stubs)
    mismatch = await error_of(
        stubs, amount_minor=9_999, currency="EUR", fx_quote_id=fx_quote.fx_quote_id
    )
    assert (mismatch.code, mismatch.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )
    assert mismatch.field_violations == {"amount_minor": "the FX quote converts 10000 minor units"}
    elsewhere = await error_of(
        stubs,
        amount_minor=10_000,
        currency="GBP",
        settlement_currency="JPY",
        fx_quote_id=fx_quote.fx_quote_id,
    )
    assert elsewhere.code is grpc.StatusCode.INVALID_ARGUMENT
    assert elsewhere.field_violations == {
        "currency": "the FX quote converts from EUR",
        "settlement_currency": "the FX quote converts to USD, the payment settles in JPY",
    }

    malformed = await error_of(stubs, settlement_currency="usd", fx_quote_id="q-1")
    assert malformed.reason == "VALIDATION_FAILED"
    assert set(malformed.field_violations) == {"settlement_currency", "fx_quote_id"}
    unsupported = await error_of(stubs, settlement_currency="XTS")
    assert (unsupported.code, unsupported.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UNSUPPORTED_CURRENCY",
    )
    assert set(unsupported.field_violations) == {"settlement_currency"}

    no_rate = await error_of(stubs, settlement_currency="NOK")
    assert (no_rate.code, no_rate.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "FX_RATE_UNAVAILABLE",
    )

    expire_time = fx_quote.expire_time.ToDatetime(UTC)

    async def past_expiry() -> bool:
        return datetime.now(UTC) > expire_time

    await eventually(past_expiry, within=QUOTE_TTL + 20, interval=0.1)
    late = await error_of(stubs, amount_minor=10_000, fx_quote_id=fx_quote.fx_quote_id)
    assert (late.code, late.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "FX_QUOTE_EXPIRED")
