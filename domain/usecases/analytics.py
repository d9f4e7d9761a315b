"""Analytics reports: validate the request, then read the buckets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.analytics import (
    AnalyticsReader,
    DisputeStatsReport,
    Granularity,
    PaymentStatsReport,
    RevenueReport,
    StatsDimension,
    dimensions_of,
    period_of,
)


async def get_payment_stats(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity | None,
    group_by: Sequence[StatsDimension | None],
    reader: AnalyticsReader,
) -> PaymentStatsReport:
    period = period_of(start, end, granularity)
    return await reader.payment_stats(period, dimensions_of(group_by))


async def get_revenue(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity | None,
    reader: AnalyticsReader,
) -> RevenueReport:
    return await reader.revenue(period_of(start, end, granularity))


async def get_dispute_stats(
    start: datetime | None, end: datetime | None, reader: AnalyticsReader
) -> DisputeStatsReport:
    # One report for the whole period (no buckets), exact to the hour whatever its length.
    return await reader.dispute_stats(period_of(start, end, Granularity.HOUR, bounded=False))
