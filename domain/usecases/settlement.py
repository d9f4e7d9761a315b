"""The settlement a new payment gets (domain/settlement.py): its currency and locked rate.

The currency is CreatePayment.settlement_currency, else SETTLEMENT_CURRENCY, else the
presentment currency. The rate is
- "1" when the settlement currency is the presentment currency: no read at all;
- the quote's locked rate when CreatePayment.fx_quote_id is given (one read: the quote),
  which must convert exactly this payment;
- else the current rate less FX_MARKUP_BPS (one read: the rates among the two currencies and
  EUR), FxRateUnavailable when none is usable.
Called inside the transaction that creates the payment.
"""

from __future__ import annotations

from domain.commands import CreatePayment
from domain.errors import FieldViolation, UnsupportedCurrency, ValidationFailed
from domain.fx import FxQuote, apply_markup
from domain.money import MAX_AMOUNT_MINOR, Money
from domain.settlement import Settlement
from domain.usecases.deps import Deps
from domain.usecases.fx import StoredFxRates, usable_quote


def settlement_currency(cmd: CreatePayment, deps: Deps) -> str:
    """The currency the payment settles in; UnsupportedCurrency for an unknown one."""
    currency = cmd.settlement_currency or deps.fx.settlement_currency or cmd.currency
    if deps.currencies.exponent(currency) is None:
        raise UnsupportedCurrency(
            f"currency {currency} is not supported",
            metadata={"currency": currency},
            violations=[
                FieldViolation("settlement_currency", "is not a supported ISO 4217 currency")
            ],
        )
    return currency


async def settlement_for(cmd: CreatePayment, deps: Deps, currency: str) -> Settlement:
    now = deps.clock.now()
    if not cmd.fx_quote_id and currency == cmd.currency:
        return Settlement.identity(currency, now)
    presentment_exponent = deps.currencies.exponent(cmd.currency)
    exponent = deps.currencies.exponent(currency)
    assert presentment_exponent is not None and exponent is not None  # checked before
    if cmd.fx_quote_id:
        quote = await usable_quote(deps, cmd.fx_quote_id, now)
        _require_matching(quote, cmd, currency)
        return Settlement(
            currency=currency,
            rate=quote.rate,
            source=quote.rate_source,
            as_of=quote.rate_as_of,
            presentment_exponent=presentment_exponent,
            exponent=exponent,
            markup_bps=quote.markup_bps,
            fx_quote_id=quote.id,
        )
    rate = await StoredFxRates(deps.uow.fx_rates, deps.clock, deps.fx).rate(cmd.currency, currency)
    settlement = Settlement(
        currency=currency,
        rate=apply_markup(rate.rate, deps.fx.markup_bps),
        source=rate.source,
        as_of=rate.as_of,
        presentment_exponent=presentment_exponent,
        exponent=exponent,
        markup_bps=deps.fx.markup_bps,
    )
    if settlement.convert(Money(cmd.amount_minor, cmd.currency)).amount_minor > MAX_AMOUNT_MINOR:
        raise ValidationFailed(
            [
                FieldViolation(
                    "amount_minor",
                    f"converts to more than {MAX_AMOUNT_MINOR} minor units of {currency}",
                )
            ]
        )
    return settlement


def _require_matching(quote: FxQuote, cmd: CreatePayment, currency: str) -> None:
    """The quote converts this very payment; each field that differs from it is named."""
    violations = []
    if quote.source_currency != cmd.currency:
        violations.append(
            FieldViolation("currency", f"the FX quote converts from {quote.source_currency}")
        )
    if quote.target_currency != currency:
        violations.append(
            FieldViolation(
                "settlement_currency",
                f"the FX quote converts to {quote.target_currency}, the payment settles in "
                f"{currency}",
            )
        )
    if quote.source_amount_minor != cmd.amount_minor:
        violations.append(
            FieldViolation(
                "amount_minor",
                f"the FX quote converts {quote.source_amount_minor} minor units",
            )
        )
    if violations:
        raise ValidationFailed(violations)
