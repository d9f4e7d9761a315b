"""ListPayments' pages are index walks that stop after page_size + 1 rows: the plans of its
statements on a table with many payments use the listing indexes of migration 0021, never
a scan of the whole table followed by a sort (what would make page 1 slow with millions).
50,000 payments of 500 users, analyzed, are enough for the planner to show its choice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.pagination import Cursor
from domain.payment_filter import parse_filter
from domain.payment_listing import PaymentQuery
from infra.db.payment_search import page_statement

USER = "00000000-0000-4000-8000-000000000042"
_SEED = text(
    """
    INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status,
        payment_method_type, gateway, created_at, updated_at)
    SELECT gen_random_uuid(), gen_random_uuid(),
        CAST(lpad(to_hex(n % 500), 8, '0') || '-0000-4000-8000-000000000042' AS uuid),
        100 + n, 'EUR', (ARRAY['PENDING', 'CAPTURED', 'FAILED', 'AUTHORIZED'])[n % 4 + 1],
        'CREDIT_CARD', 'SIMULATOR',
        timestamptz '2026-01-01 00:00:00+00' + n * interval '1 minute',
        timestamptz '2026-01-01 00:00:00+00' + n * interval '1 minute'
    FROM generate_series(0, 49999) AS n
    """
)


async def plan(engine: AsyncEngine, query: PaymentQuery) -> str:
    compiled = page_statement(query).compile(dialect=engine.dialect)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql("EXPLAIN " + compiled.string, params)
        return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize(
    ("filter_text", "descending", "index"),
    [
        (f'user_id = "{USER}"', True, "ix_payments_user_listing"),
        # A status a quarter of the rows have: walking (created_at, id) and filtering finds
        # a page as soon; either way no row beyond the page's is read in order.
        ("status = CAPTURED", True, "_listing"),
        ("", True, "ix_payments_listing"),
        ('create_time >= "2026-01-10T00:00:00Z"', False, "ix_payments_listing"),
    ],
)
async def test_each_listing_walks_an_index(
    own_engine: AsyncEngine, filter_text: str, descending: bool, index: str
) -> None:
    async with own_engine.begin() as conn:
        if not (await conn.execute(text("SELECT count(*) FROM payments"))).scalar():
            await conn.execute(_SEED)
            await conn.execute(text("ANALYZE payments"))
    after = Cursor(datetime(2026, 1, 20, tzinfo=UTC), "00000000-0000-4000-8000-000000000000")
    for cursor in (None, after):
        found = await plan(own_engine, PaymentQuery(parse_filter(filter_text), descending, 50,
                                                     cursor))  # fmt: skip
        assert index in found, found
        assert "Seq Scan on payments" not in found, found
