"""Exchange rates and FX quotes over the unit of work's connection (domain.ports
FxRateRepository, FxQuoteRepository)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from domain.errors import FieldViolation, ValidationFailed
from domain.fx import ExchangeRate, FxQuote, rate_cursor
from domain.pagination import Page, PageRequest
from infra.db.staging import Statements
from infra.db.tables import fx_quotes, fx_rates


def _rate(row: Any) -> ExchangeRate:
    return ExchangeRate(
        row["base_currency"],
        row["quote_currency"],
        Decimal(row["rate"]),
        row["source"],
        row["as_of"],
        row["fetched_at"],
    )


def _listing_key(token_id: str) -> tuple[str, str, str]:
    """(base, quote, source) of a listing cursor's id "BASE/QUOTE/source"."""
    parts = token_id.split("/")
    if len(parts) != 3:
        raise ValidationFailed(
            [FieldViolation("page_token", "is not a token returned by this API")]
        )
    return parts[0], parts[1], parts[2]


class SqlFxRateRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    # Plain reads (staging.py): the first statement of a payment's creation runs alone.
    async def rates_of(self, base: str, quote: str) -> Sequence[ExchangeRate]:
        rows = await self._conn.read(
            select(fx_rates).where(
                fx_rates.c.base_currency == base, fx_rates.c.quote_currency == quote
            )
        )
        return [_rate(row) for row in rows.mappings()]

    async def rates_among(self, currencies: Collection[str]) -> Sequence[ExchangeRate]:
        among = list(currencies)
        rows = await self._conn.read(
            select(fx_rates).where(
                fx_rates.c.base_currency.in_(among), fx_rates.c.quote_currency.in_(among)
            )
        )
        return [_rate(row) for row in rows.mappings()]

    async def put(self, rate: ExchangeRate) -> bool:
        values = {
            "base_currency": rate.base,
            "quote_currency": rate.quote,
            "source": rate.source,
            "rate": rate.rate,
            "as_of": rate.as_of,
            "fetched_at": rate.fetched_at,
        }
        statement = insert(fx_rates).values(values)
        # A source's rate is replaced by a rate valid at the same time or later, never by an
        # older one (a feed fetched out of order, a slow replica).
        upsert = statement.on_conflict_do_update(
            index_elements=[fx_rates.c.base_currency, fx_rates.c.quote_currency, fx_rates.c.source],
            set_={
                "rate": statement.excluded.rate,
                "as_of": statement.excluded.as_of,
                "fetched_at": statement.excluded.fetched_at,
            },
            where=statement.excluded.as_of >= fx_rates.c.as_of,
        ).returning(fx_rates.c.source)
        return (await self._conn.execute(upsert)).first() is not None

    async def list(self, page: PageRequest) -> Page[ExchangeRate]:
        key = tuple_(fx_rates.c.base_currency, fx_rates.c.quote_currency, fx_rates.c.source)
        query = select(fx_rates).order_by(key).limit(page.size + 1)
        if page.after is not None:
            query = query.where(key > _listing_key(page.after.id))
        rows = [_rate(row) for row in (await self._conn.execute(query)).mappings()]
        items = rows[: page.size]
        more = len(rows) > page.size
        return Page(items, rate_cursor(items[-1]) if more and items else None)


class SqlFxQuoteRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def add(self, quote: FxQuote) -> None:
        await self._conn.execute(
            fx_quotes.insert().values(
                id=quote.id,
                owner=quote.owner,
                source_currency=quote.source_currency,
                target_currency=quote.target_currency,
                source_amount_minor=quote.source_amount_minor,
                target_amount_minor=quote.target_amount_minor,
                rate=quote.rate,
                mid_rate=quote.mid_rate,
                rate_source=quote.rate_source,
                rate_as_of=quote.rate_as_of,
                markup_bps=quote.markup_bps,
                created_at=quote.created_at,
                expire_time=quote.expire_time,
            )
        )

    async def get(self, quote_id: str) -> FxQuote | None:
        row = (
            (await self._conn.read(select(fx_quotes).where(fx_quotes.c.id == quote_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return FxQuote(
            id=str(row["id"]),
            owner=row["owner"],
            source_currency=row["source_currency"],
            target_currency=row["target_currency"],
            source_amount_minor=row["source_amount_minor"],
            target_amount_minor=row["target_amount_minor"],
            rate=Decimal(row["rate"]),
            mid_rate=Decimal(row["mid_rate"]),
            rate_source=row["rate_source"],
            rate_as_of=row["rate_as_of"],
            markup_bps=row["markup_bps"],
            created_at=row["created_at"],
            expire_time=row["expire_time"],
        )
