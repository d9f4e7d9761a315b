"""Reads the analytics buckets (migration 0026) into reports.

Payment stats for all payments or split by one dimension (and/or the failure code) read the
slices of the report's span: 30 days by day is 30 rows per value and failure code. Splits by
two dimensions or more read, by day, the day rows of that grouping (30 days by gateway and
currency: 30 rows per gateway-currency pair and failure code); by hour, every combination's
hour rows, grouped in PostgreSQL. Revenue and disputes are hour rows per currency."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.analytics import (
    CurrencyRevenue,
    DisputeAmounts,
    DisputeStatsReport,
    Granularity,
    OutcomeCounts,
    PaymentStatsReport,
    Period,
    RevenueBucket,
    RevenueReport,
    StatsBucket,
    StatsDimension,
)
from infra.db.analytics_fold import PAYMENT_FIGURES, grouping_name
from infra.db.tables import (
    analytics_dispute_hours,
    analytics_payment_days,
    analytics_payment_hours,
    analytics_payment_slices,
    analytics_revenue_hours,
)

_S, _R, _D = analytics_payment_hours.c, analytics_revenue_hours.c, analytics_dispute_hours.c
_SL, _DY = analytics_payment_slices.c, analytics_payment_days.c
_SPANS = {Granularity.HOUR: "h", Granularity.DAY: "d"}


def _bucket(hour: ColumnElement[datetime], granularity: Granularity) -> ColumnElement[Any]:
    if granularity is Granularity.HOUR:
        return hour
    return func.date_trunc("day", hour, "UTC")


def _within(hour: ColumnElement[datetime], period: Period) -> ColumnElement[bool]:
    return (hour >= period.start) & (hour < period.end)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class SqlAnalyticsReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _rows(self, query: Select[Any]) -> list[Any]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def payment_stats(
        self, period: Period, group_by: tuple[StatsDimension, ...]
    ) -> PaymentStatsReport:
        per_code = slices_query(period, group_by)
        if per_code is None:
            per_code = days_query(period, group_by)
        if per_code is None:
            per_code = combinations_query(period, group_by)
        return await self.report_of(per_code, group_by)

    async def report_of(
        self, per_code: Select[Any], group_by: tuple[StatsDimension, ...]
    ) -> PaymentStatsReport:
        """The report of per-failure-code rows (labelled bucket, failure_code, the group's
        dimensions and the figures), whichever table they come from."""
        query = _one_row_per_group(per_code, group_by)
        total = OutcomeCounts()
        buckets: dict[tuple[Any, ...], StatsBucket] = {}
        for row in await self._rows(query):
            counts = _counts(row)
            total.add(counts)
            group = {d: str(row._mapping[d.value]) for d in group_by}
            key = (row.bucket, *(group[d] for d in group_by))
            found = buckets.get(key)
            if found is None:
                buckets[key] = StatsBucket(_utc(row.bucket), group, counts)
            else:
                found.counts.add(counts)
        ordered = [buckets[key] for key in sorted(buckets)]
        return PaymentStatsReport(total, ordered)

    async def revenue(self, period: Period) -> RevenueReport:
        bucket = _bucket(_R.hour, period.granularity).label("bucket")
        query = (
            select(
                bucket,
                _R.basis,
                _R.currency,
                func.sum(_R.captured_minor).label("captured"),
                func.sum(_R.refunded_minor).label("refunded"),
                func.sum(_R.disputed_minor).label("disputed"),
                func.sum(_R.dispute_lost_minor).label("lost"),
            )
            .where(_within(_R.hour, period))
            .group_by(bucket, _R.basis, _R.currency)
            .order_by(bucket, _R.basis, _R.currency)
        )
        totals: dict[tuple[str, str], CurrencyRevenue] = {}
        buckets: dict[datetime, RevenueBucket] = {}
        for row in await self._rows(query):
            money = CurrencyRevenue(
                row.currency, int(row.captured), int(row.refunded), int(row.disputed), int(row.lost)
            )
            total = totals.setdefault((row.basis, row.currency), CurrencyRevenue(row.currency))
            total.add(money)
            start = _utc(row.bucket)
            entry = buckets.setdefault(start, RevenueBucket(start, [], []))
            (entry.settlement_amounts if row.basis == "settlement" else entry.amounts).append(money)
        return RevenueReport(
            _of_basis(totals, "payment"), _of_basis(totals, "settlement"), list(buckets.values())
        )

    async def dispute_stats(self, period: Period) -> DisputeStatsReport:
        figures = ("opened", "won", "lost", "closed")
        in_period = _within(_D.hour, period)
        before_end = _D.hour < period.end

        def both(name: str) -> list[ColumnElement[Any]]:
            column = _D[name]
            return [
                func.sum(column).filter(in_period).label(name),
                func.sum(column).filter(before_end).label(f"{name}_by_end"),
            ]

        columns = [c for f in figures for c in both(f)] + [
            c for f in figures for c in both(f"{f}_minor")
        ]
        query = select(_D.currency, *columns).where(before_end).group_by(_D.currency)
        captured = select(func.coalesce(func.sum(_S.captured), literal(0))).where(
            _within(_S.hour, period)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(_D.currency))).all()
            captured_payments = int((await conn.execute(captured)).scalar_one())
        counts = dict.fromkeys(("opened", "won", "lost", "open"), 0)
        amounts: list[DisputeAmounts] = []
        for row in rows:
            m = {k: int(v or 0) for k, v in row._mapping.items() if k != "currency"}
            still_open = (
                m["opened_by_end"] - m["won_by_end"] - m["lost_by_end"] - m["closed_by_end"]
            )
            open_minor = (
                m["opened_minor_by_end"]
                - m["won_minor_by_end"]
                - m["lost_minor_by_end"]
                - m["closed_minor_by_end"]
            )
            counts["opened"] += m["opened"]
            counts["won"] += m["won"]
            counts["lost"] += m["lost"]
            counts["open"] += still_open
            amounts.append(
                DisputeAmounts(
                    row.currency, m["opened_minor"], m["won_minor"], m["lost_minor"], open_minor
                )
            )
        return DisputeStatsReport(
            counts["opened"], counts["won"], counts["lost"], counts["open"], amounts,
            captured_payments,
        )  # fmt: skip


def slices_query(period: Period, group_by: tuple[StatsDimension, ...]) -> Select[Any] | None:
    """The query of the slices: None when the report splits by two dimensions or more."""
    sliced = [d for d in group_by if d is not StatsDimension.FAILURE_CODE]
    if len(sliced) > 1:
        return None
    dimension = sliced[0].value if sliced else ""
    # Labelled as the combinations' query labels them.
    keys: list[ColumnElement[Any]] = [_SL.bucket.label("bucket"), _SL.failure_code]
    if sliced:
        keys.append(_SL.value.label(dimension))
    return (
        select(*keys, *(func.sum(_SL[f]).label(f) for f in PAYMENT_FIGURES))
        .where(
            _SL.span == _SPANS[period.granularity],
            _SL.dimension == dimension,
            _SL.bucket >= period.start,
            _SL.bucket < period.end,
        )
        .group_by(*keys)
    )


def days_query(period: Period, group_by: tuple[StatsDimension, ...]) -> Select[Any] | None:
    """The day rows of the report's grouping: None but by day and by two dimensions or
    more. One row per day, group and failure code already: nothing to sum here."""
    sliced = [d.value for d in group_by if d is not StatsDimension.FAILURE_CODE]
    if period.granularity is not Granularity.DAY or len(sliced) < 2:
        return None
    return select(
        _DY.day.label("bucket"),
        _DY.failure_code,
        *(_DY[name] for name in sliced),
        *(_DY[f] for f in PAYMENT_FIGURES),
    ).where(
        _DY.dimensions == grouping_name(sliced),
        _DY.day >= period.start,
        _DY.day < period.end,
    )


def combinations_query(period: Period, group_by: tuple[StatsDimension, ...]) -> Select[Any]:
    bucket = _bucket(_S.hour, period.granularity).label("bucket")
    dimensions = [_S[d.value] for d in group_by if d is not StatsDimension.FAILURE_CODE]
    # The failure code is always selected: the top decline codes of every bucket.
    keys = [bucket, _S.failure_code, *dimensions]
    return (
        select(*keys, *(func.sum(_S[f]).label(f) for f in PAYMENT_FIGURES))
        .where(_within(_S.hour, period))
        .group_by(*keys)
    )


def _one_row_per_group(per_code: Select[Any], group_by: tuple[StatsDimension, ...]) -> Select[Any]:
    """The per-failure-code rows folded in PostgreSQL into one row per bucket and group,
    the failures as a JSON object {code: count}: fewer rows to turn into Python objects."""
    rows = per_code.subquery()
    keys = [rows.c.bucket, *(rows.c[d.value] for d in group_by)]
    failures = func.jsonb_object_agg(rows.c.failure_code, rows.c.failed, type_=JSONB)
    return select(
        *keys,
        *(func.sum(rows.c[f]).label(f) for f in PAYMENT_FIGURES),
        failures.filter(rows.c.failed > 0).label("failures"),
    ).group_by(*keys)


def _counts(row: Any) -> OutcomeCounts:
    m = row._mapping
    counts = OutcomeCounts(
        attempts=int(m["attempts"]),
        authorized=int(m["authorized"]),
        captured=int(m["captured"]),
        failed=int(m["failed"]),
        retry_attempts=int(m["retry_attempts"]),
        retry_authorized=int(m["retry_authorized"]),
    )
    for code, failed in (m["failures"] or {}).items():
        counts.failures[str(code)] = int(failed)
    return counts


def _of_basis(totals: dict[tuple[str, str], CurrencyRevenue], basis: str) -> list[CurrencyRevenue]:
    chosen: Iterable[tuple[tuple[str, str], CurrencyRevenue]] = sorted(totals.items())
    return [money for (b, _currency), money in chosen if b == basis]
