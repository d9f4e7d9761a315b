"""The settlement a new payment gets (domain/usecases/settlement.py) with in-memory ports:
the merchant's currency by default, the request's instead, a cross rate through EUR less
the markup, a quote's rate, and the errors of each."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from domain.actor import Actor, ActorKind
from domain.commands import CreateFxQuote, CreatePayment, SetExchangeRate
from domain.enums import PaymentMethodType
from domain.errors import (
    FxQuoteExpired,
    FxRateUnavailable,
    UnsupportedCurrency,
    ValidationFailed,
)
from domain.fx import FxPolicy
from domain.money import Money
from domain.ownership import OwnerScopedUnitOfWork
from domain.usecases.deps import Deps
from domain.usecases.fx import create_fx_quote, set_exchange_rate
from domain.usecases.payments import create_payment
from tests.unit.fakes import FakePorts, FixedClock, SequentialIds, order_id, user_id

ADMIN = Actor(ActorKind.USER, "ops-admin", frozenset({"admin"}))
SHOP = Actor(ActorKind.SERVICE, "shop", frozenset({"fx:write", "payments:write"}))
POLICY = FxPolicy(max_rate_age=timedelta(hours=1), markup_bps=50, settlement_currency="USD")


@pytest.fixture
def ports() -> FakePorts:
    return FakePorts(clock=FixedClock())


def _deps(ports: FakePorts, actor: Actor, policy: FxPolicy = POLICY) -> Deps:
    deps = ports.deps_for(actor)
    return dataclasses.replace(deps, uow=OwnerScopedUnitOfWork(deps.uow, actor), fx=policy)


def _create(n: int, amount_minor: int, currency: str, **fields: str) -> CreatePayment:
    return CreatePayment(
        order_id=order_id(n),
        user_id=user_id(1),
        amount_minor=amount_minor,
        currency=currency,
        payment_method_type=PaymentMethodType.CREDIT_CARD,
        payment_method_token="pm_card_visa",
        **fields,  # type: ignore[arg-type]
    )


async def _rates(ports: FakePorts, *rates: tuple[str, str, str]) -> None:
    for base, quote, value in rates:
        await set_exchange_rate(SetExchangeRate(base, quote, value), _deps(ports, ADMIN))


async def test_the_merchants_currency_through_eur_less_the_markup(ports: FakePorts) -> None:
    await _rates(ports, ("EUR", "USD", "1.08"), ("EUR", "GBP", "0.86"))
    payment = await create_payment(_create(1, 10_000, "GBP"), _deps(ports, SHOP))
    settles = payment.settles
    # GBP/USD = 1.08 / 0.86 = 1.2558139534883720930..., less 50 bps
    assert settles.source == "cross:admin"
    assert settles.rate == Decimal("1.24953488372093023")
    assert (settles.currency, settles.markup_bps, settles.fx_quote_id) == ("USD", 50, None)
    assert payment.settlement_amount == Money(12_495, "USD")


async def test_the_request_overrides_the_merchants_currency(ports: FakePorts) -> None:
    payment = await create_payment(
        _create(1, 500, "JPY", settlement_currency="JPY"), _deps(ports, SHOP)
    )
    assert payment.settles.rate == 1 and payment.settles.source == "identity"
    assert payment.settlement_amount == Money(500, "JPY")
    unset = await create_payment(_create(2, 500, "JPY"), _deps(ports, SHOP, FxPolicy()))
    assert unset.settlement_amount == Money(500, "JPY")  # no SETTLEMENT_CURRENCY


async def test_a_quote_settles_at_its_rate(ports: FakePorts) -> None:
    await _rates(ports, ("EUR", "USD", "1.0842"))
    quote = await create_fx_quote(CreateFxQuote("EUR", "USD", 10_000, "q-1"), _deps(ports, SHOP))
    await _rates(ports, ("EUR", "USD", "2"))  # the rate moved: the quote's stays
    payment = await create_payment(
        _create(1, 10_000, "EUR", fx_quote_id=quote.id), _deps(ports, SHOP)
    )
    assert payment.settles.rate == quote.rate == Decimal("1.078779")
    assert payment.settles.fx_quote_id == quote.id
    assert payment.settlement_amount == Money(quote.target_amount_minor, "USD")


async def test_sent_again_after_its_quote_expired_it_finds_its_payment(
    ports: FakePorts,
) -> None:
    """A request resumed after a crash makes the same ids (server RequestIds): the payment it
    created is its answer, though its quote has expired since."""
    await _rates(ports, ("EUR", "USD", "1.0842"))
    quote = await create_fx_quote(CreateFxQuote("EUR", "USD", 10_000), _deps(ports, SHOP))
    command = _create(1, 10_000, "EUR", fx_quote_id=quote.id)
    first_id = len(ports.ids.issued) + 1
    created = await create_payment(command, _deps(ports, SHOP))
    ports.clock.advance(timedelta(hours=2))  # the quote and the rate have expired
    again = dataclasses.replace(_deps(ports, SHOP), ids=SequentialIds(first_id))
    found = await create_payment(command, again)
    assert (found.id, found.settles.fx_quote_id) == (created.id, quote.id)
    with pytest.raises(FxQuoteExpired):  # a new payment with it is refused
        await create_payment(_create(2, 10_000, "EUR", fx_quote_id=quote.id), _deps(ports, SHOP))


async def test_what_cannot_settle_is_refused_before_anything_is_written(
    ports: FakePorts,
) -> None:
    deps = _deps(ports, SHOP)
    with pytest.raises(FxRateUnavailable):
        await create_payment(_create(1, 100, "EUR"), deps)  # no EUR/USD rate
    with pytest.raises(UnsupportedCurrency) as unsupported:
        await create_payment(_create(2, 100, "EUR", settlement_currency="XTS"), deps)
    assert [v.field for v in unsupported.value.violations] == ["settlement_currency"]
    with pytest.raises(ValidationFailed) as invalid:
        await create_payment(
            _create(3, 100, "EUR", settlement_currency="us", fx_quote_id="nope"), deps
        )
    assert {v.field for v in invalid.value.violations} == {"settlement_currency", "fx_quote_id"}
    assert ports.uow.db.payments == {}
