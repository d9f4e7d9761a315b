"""domain/usecases/fx.py with in-memory ports: rates set by an administrator (audited),
resolved, listed; quotes created, found only by their owner, refused once expired."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from domain.actor import Actor, ActorKind
from domain.commands import CreateFxQuote, SetExchangeRate
from domain.errors import (
    FxQuoteExpired,
    FxQuoteNotFound,
    FxRateUnavailable,
    UnsupportedCurrency,
    ValidationFailed,
)
from domain.fx import FxPolicy
from domain.ownership import OwnerScopedUnitOfWork
from domain.usecases.deps import Deps
from domain.usecases.fx import (
    StoredFxRates,
    create_fx_quote,
    get_exchange_rate,
    list_exchange_rates,
    set_exchange_rate,
    usable_quote,
)
from tests.unit.fakes import FakePorts, FixedClock

ADMIN = Actor(ActorKind.USER, "ops-admin", frozenset({"admin"}))
MERCHANT = Actor(ActorKind.SERVICE, "shop", frozenset({"fx:read", "fx:write"}))
OTHER = Actor(ActorKind.SERVICE, "other-shop", frozenset({"fx:read", "fx:write"}))
POLICY = FxPolicy(max_rate_age=timedelta(hours=1), quote_ttl=timedelta(minutes=5), markup_bps=50)


@pytest.fixture
def fx_ports() -> FakePorts:
    return FakePorts(clock=FixedClock())


def _deps(ports: FakePorts, actor: Actor) -> Deps:
    """As the server builds them: the per-caller access rule wraps the unit of work."""
    deps = ports.deps_for(actor)
    return dataclasses.replace(deps, uow=OwnerScopedUnitOfWork(deps.uow, actor), fx=POLICY)


async def test_an_admin_rate_is_stored_audited_and_used(fx_ports: FakePorts) -> None:
    rate = await set_exchange_rate(
        SetExchangeRate("EUR", "USD", "1.0842", "req-1"), _deps(fx_ports, ADMIN)
    )
    assert (rate.rate, rate.source) == (Decimal("1.0842"), "admin")
    [audited] = [c.entry for c in fx_ports.uow.db.audit]
    assert (audited.action, audited.resource_type, audited.resource_id) == (
        "fx_rate.set",
        "fx_rate",
        "EUR/USD",
    )
    assert audited.actor_subject == "ops-admin"
    assert audited.after is not None and audited.after["rate"] == "1.0842"

    found = await get_exchange_rate("EUR", "USD", _deps(fx_ports, MERCHANT))
    assert found == rate
    inverse = await get_exchange_rate("USD", "EUR", _deps(fx_ports, MERCHANT))
    assert inverse.rate == Decimal("0.922339051835454713")


async def test_rates_are_listed_page_by_page(fx_ports: FakePorts) -> None:
    for quote_currency, value in (("USD", "1.08"), ("GBP", "0.85"), ("JPY", "160")):
        await set_exchange_rate(
            SetExchangeRate("EUR", quote_currency, value), _deps(fx_ports, ADMIN)
        )
    first = await list_exchange_rates(2, "", _deps(fx_ports, MERCHANT))
    second = await list_exchange_rates(2, first.next_page_token, _deps(fx_ports, MERCHANT))
    assert [r.quote for r in first.items] == ["GBP", "JPY"]
    assert [r.quote for r in second.items] == ["USD"]
    assert second.next_page_token == ""


async def test_a_rate_goes_stale(fx_ports: FakePorts) -> None:
    await set_exchange_rate(SetExchangeRate("EUR", "USD", "1.08"), _deps(fx_ports, ADMIN))
    fx_ports.clock.advance(POLICY.max_rate_age + timedelta(seconds=1))
    with pytest.raises(FxRateUnavailable):
        await get_exchange_rate("EUR", "USD", _deps(fx_ports, MERCHANT))
    with pytest.raises(FxRateUnavailable):
        await create_fx_quote(CreateFxQuote("EUR", "USD", 10_000), _deps(fx_ports, MERCHANT))


async def test_a_quote_is_its_owners_until_it_expires(fx_ports: FakePorts) -> None:
    await set_exchange_rate(SetExchangeRate("EUR", "USD", "1.0842"), _deps(fx_ports, ADMIN))
    quote = await create_fx_quote(
        CreateFxQuote("EUR", "USD", 10_000, "req-q"), _deps(fx_ports, MERCHANT)
    )
    assert (quote.target_amount_minor, quote.rate, quote.owner) == (
        10_788,
        Decimal("1.078779"),
        "shop",
    )
    assert quote.expire_time == fx_ports.clock.now() + POLICY.quote_ttl

    async def find(actor: Actor) -> object:
        deps = _deps(fx_ports, actor)
        async with deps.uow:
            return await usable_quote(deps, quote.id, fx_ports.clock.now())

    assert await find(MERCHANT) == quote
    assert await find(ADMIN) == quote
    with pytest.raises(FxQuoteNotFound):
        await find(OTHER)  # another caller's quote is reported as missing
    fx_ports.clock.advance(POLICY.quote_ttl)
    with pytest.raises(FxQuoteExpired):
        await find(MERCHANT)


async def test_the_rates_port_resolves_in_the_callers_transaction(fx_ports: FakePorts) -> None:
    await set_exchange_rate(SetExchangeRate("EUR", "USD", "1.08"), _deps(fx_ports, ADMIN))
    await set_exchange_rate(SetExchangeRate("EUR", "JPY", "160"), _deps(fx_ports, ADMIN))
    deps = _deps(fx_ports, MERCHANT)
    async with deps.uow as uow:
        crossed = await StoredFxRates(uow.fx_rates, deps.clock, POLICY).rate("USD", "JPY")
    assert (crossed.rate, crossed.source) == (Decimal("148.148148148148148"), "cross:admin")


async def test_invalid_requests_name_every_bad_field(fx_ports: FakePorts) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await set_exchange_rate(SetExchangeRate("eur", "", "-1"), _deps(fx_ports, ADMIN))
    assert {v.field for v in raised.value.violations} == {
        "base_currency",
        "quote_currency",
        "rate",
    }
    with pytest.raises(ValidationFailed) as raised:
        await create_fx_quote(CreateFxQuote("EUR", "EUR", 0), _deps(fx_ports, MERCHANT))
    assert {v.field for v in raised.value.violations} == {
        "target_currency",
        "source_amount_minor",
    }
    with pytest.raises(UnsupportedCurrency):
        await create_fx_quote(CreateFxQuote("EUR", "XAU", 100), _deps(fx_ports, MERCHANT))
    assert fx_ports.uow.db.audit == []
