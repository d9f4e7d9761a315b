"""Exchange rates and FX quotes (payments.v1.FxService), and the rates port settlement uses.

An administrator's rate is stored as source "admin" beside the feed's ("ecb"); both stay, and
`domain.fx.resolve` picks the newer of the two when a pair is converted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.audit import AuditAction
from domain.commands import CreateFxQuote, SetExchangeRate
from domain.errors import FieldViolation, FxQuoteNotFound, UnsupportedCurrency, ValidationFailed
from domain.fx import (
    EUR,
    ExchangeRate,
    FxPolicy,
    FxQuote,
    RateSource,
    format_rate,
    parse_rate,
    quote,
)
from domain.fx import resolve as resolve_rate
from domain.pagination import Page, PageRequest
from domain.ports import Clock, FxRateFeed, FxRateRepository
from domain.usecases.deps import Deps, validate
from domain.validation import require_currency_code, require_uuid

FX_RATE_RESOURCE = "fx_rate"


def _exponent(deps: Deps, field: str, code: str) -> int:
    exponent = deps.currencies.exponent(code)
    if exponent is None:
        raise UnsupportedCurrency(
            f"currency {code} is not supported",
            metadata={"currency": code},
            violations=[FieldViolation(field, "is not a supported ISO 4217 currency")],
        )
    return exponent


class StoredFxRates:
    """The FxRates port over the rates of the current transaction's unit of work."""

    def __init__(self, rates: FxRateRepository, clock: Clock, policy: FxPolicy) -> None:
        self._rates = rates
        self._clock = clock
        self._policy = policy

    async def rate(self, base: str, quote: str) -> ExchangeRate:
        """At most one read: every stored rate among base, quote and EUR, resolved in
        memory (a currency against itself reads nothing)."""
        by_pair: dict[tuple[str, str], list[ExchangeRate]] = {}
        if base != quote:
            for stored in await self._rates.rates_among({base, quote, EUR}):
                by_pair.setdefault((stored.base, stored.quote), []).append(stored)

        async def rates_of(of_base: str, of_quote: str) -> Sequence[ExchangeRate]:
            return by_pair.get((of_base, of_quote), [])

        return await resolve_rate(
            rates_of, base, quote, self._clock.now(), self._policy.max_rate_age
        )


async def refresh_rates(feed: FxRateFeed, deps: Deps) -> int:
    """Stores the feed's current rates; how many were newer than those stored. A feed's
    rates are reference data, not anyone's decision: they leave no audit entry."""
    fetched = await feed.fetch()
    stored = 0
    async with deps.uow as uow:
        for rate in fetched:
            stored += await uow.fx_rates.put(rate)
        await uow.commit()
    return stored


async def set_exchange_rate(cmd: SetExchangeRate, deps: Deps) -> ExchangeRate:
    validate(cmd)
    _exponent(deps, "base_currency", cmd.base_currency)
    _exponent(deps, "quote_currency", cmd.quote_currency)
    value, _ = parse_rate("rate", cmd.rate)
    assert value is not None  # validated
    now = deps.clock.now()
    rate = ExchangeRate(
        cmd.base_currency, cmd.quote_currency, value, RateSource.ADMIN.value, now, now
    )
    async with deps.uow as uow:
        await uow.fx_rates.put(rate)
        uow.fact(
            AuditAction.FX_RATE_SET,
            FX_RATE_RESOURCE,
            rate.pair,
            after={
                "base_currency": rate.base,
                "quote_currency": rate.quote,
                "rate": format_rate(rate.rate),
                "source": rate.source,
                "as_of": rate.as_of.isoformat(),
            },
        )
        await uow.commit()
    return rate


async def get_exchange_rate(base: str, quote_currency: str, deps: Deps) -> ExchangeRate:
    violations = require_currency_code("base_currency", base)
    violations += require_currency_code("quote_currency", quote_currency)
    if violations:
        raise ValidationFailed(violations)
    _exponent(deps, "base_currency", base)
    _exponent(deps, "quote_currency", quote_currency)
    async with deps.uow as uow:
        return await StoredFxRates(uow.fx_rates, deps.clock, deps.fx).rate(base, quote_currency)


async def list_exchange_rates(page_size: int, page_token: str, deps: Deps) -> Page[ExchangeRate]:
    page = PageRequest.parse(page_size, page_token)
    async with deps.uow as uow:
        return await uow.fx_rates.list(page)


async def create_fx_quote(cmd: CreateFxQuote, deps: Deps) -> FxQuote:
    validate(cmd)
    source_exponent = _exponent(deps, "source_currency", cmd.source_currency)
    target_exponent = _exponent(deps, "target_currency", cmd.target_currency)
    now = deps.clock.now()
    async with deps.uow as uow:
        rate = await StoredFxRates(uow.fx_rates, deps.clock, deps.fx).rate(
            cmd.source_currency, cmd.target_currency
        )
        created = quote(
            quote_id=deps.ids.new_id(),
            owner=deps.actor.subject,
            rate=rate,
            source_amount_minor=cmd.source_amount_minor,
            source_exponent=source_exponent,
            target_exponent=target_exponent,
            markup_bps=deps.fx.markup_bps,
            now=now,
            ttl=deps.fx.quote_ttl,
        )
        await uow.fx_quotes.add(created)
        await uow.commit()
    return created


async def usable_quote(deps: Deps, quote_id: str, now: datetime) -> FxQuote:
    """The caller's quote, still locked at `now`: for settling a payment at its rate. Call it
    inside the unit of work's transaction. FxQuoteNotFound (also for another caller's quote)
    or FxQuoteExpired."""
    violations = require_uuid("fx_quote_id", quote_id)
    if violations:
        raise ValidationFailed(violations)
    found = await deps.uow.fx_quotes.get(quote_id)
    if found is None:
        raise FxQuoteNotFound(f"FX quote {quote_id} not found", metadata={"fx_quote_id": quote_id})
    found.ensure_usable(now)
    return found


__all__ = [
    "StoredFxRates",
    "create_fx_quote",
    "get_exchange_rate",
    "list_exchange_rates",
    "refresh_rates",
    "set_exchange_rate",
    "usable_quote",
]
