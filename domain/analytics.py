"""Payment analytics: the periods a report covers, the figures of a set of authorization
outcomes, and the port that reads the hourly buckets (infra/db/analytics_reader.py).

The buckets are maintained by a projector from the committed events, so a report reads a
few hundred rows whatever the number of payments. What each figure counts is defined in the
contract (protos/payments/v1/analytics_service.proto); the arithmetic on the counts is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.errors import FieldViolation, ValidationFailed

TOP_DECLINE_CODES = 5


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


class StatsDimension(StrEnum):
    """A property of the event's payment that payment stats can be split by (the names are
    the bucket table's columns)."""

    GATEWAY = "gateway"
    PAYMENT_METHOD_TYPE = "payment_method_type"
    CURRENCY = "currency"
    COUNTRY = "country"
    FAILURE_CODE = "failure_code"


# The longest period of each granularity: a report stays a few thousand buckets at most.
MAX_SPAN = {Granularity.HOUR: timedelta(days=93), Granularity.DAY: timedelta(days=3660)}


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end), both at a bucket boundary of `granularity` (UTC)."""

    start: datetime
    end: datetime
    granularity: Granularity


def bucket_start(moment: datetime, granularity: Granularity) -> datetime:
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour if granularity is Granularity.HOUR else hour.replace(hour=0)


def _round_up(moment: datetime, granularity: Granularity) -> datetime:
    start = bucket_start(moment, granularity)
    if start == moment:
        return start
    return start + (timedelta(hours=1) if granularity is Granularity.HOUR else timedelta(days=1))


def period_of(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity | None,
    *,
    bounded: bool = True,
) -> Period:
    """The whole buckets covering [start, end); every problem of the request reported.
    `bounded`: the period may not span more than MAX_SPAN (a report of buckets)."""
    problems: list[FieldViolation] = []
    if start is None:
        problems.append(FieldViolation("start_time", "is required"))
    if end is None:
        problems.append(FieldViolation("end_time", "is required"))
    if granularity is None:
        problems.append(FieldViolation("granularity", "must be HOUR or DAY"))
    if start is not None and end is not None and start >= end:
        problems.append(FieldViolation("end_time", "must be after start_time"))
    if problems:
        raise ValidationFailed(problems)
    assert start is not None and end is not None and granularity is not None
    period = Period(bucket_start(start, granularity), _round_up(end, granularity), granularity)
    if bounded and period.end - period.start > MAX_SPAN[granularity]:
        days = MAX_SPAN[granularity].days
        raise ValidationFailed(
            [FieldViolation("end_time", f"a period by {granularity} spans at most {days} days")]
        )
    return period


def dimensions_of(group_by: Sequence[StatsDimension | None]) -> tuple[StatsDimension, ...]:
    problems: list[FieldViolation] = []
    seen: list[StatsDimension] = []
    for n, dimension in enumerate(group_by):
        if dimension is None:
            problems.append(FieldViolation(f"group_by[{n}]", "is not a known dimension"))
        elif dimension in seen:
            problems.append(FieldViolation(f"group_by[{n}]", f"{dimension} is given twice"))
        else:
            seen.append(dimension)
    if problems:
        raise ValidationFailed(problems)
    return tuple(seen)


def _ratio(part: int, whole: int) -> float:
    # A rate is a display figure (the proto's double); the counts it comes from stay exact.
    return part / whole if whole else 0.0


@dataclass(slots=True)
class OutcomeCounts:
    """The authorization figures of a set of events (summed from buckets)."""

    attempts: int = 0
    authorized: int = 0
    captured: int = 0
    failed: int = 0
    retry_attempts: int = 0
    retry_authorized: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def add(self, other: OutcomeCounts) -> None:
        self.attempts += other.attempts
        self.authorized += other.authorized
        self.captured += other.captured
        self.failed += other.failed
        self.retry_attempts += other.retry_attempts
        self.retry_authorized += other.retry_authorized
        for code, count in other.failures.items():
            self.failures[code] = self.failures.get(code, 0) + count

    @property
    def success_rate(self) -> float:
        return _ratio(self.authorized, self.attempts)

    @property
    def retry_success_rate(self) -> float:
        return _ratio(self.retry_authorized, self.retry_attempts)

    def top_decline_codes(self, limit: int = TOP_DECLINE_CODES) -> list[tuple[str, int]]:
        ranked = sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))
        return [(code, count) for code, count in ranked if count > 0][:limit]


@dataclass(frozen=True, slots=True)
class StatsBucket:
    start: datetime
    # The values of the grouped dimensions (the others are absent).
    group: Mapping[StatsDimension, str]
    counts: OutcomeCounts


@dataclass(frozen=True, slots=True)
class PaymentStatsReport:
    total: OutcomeCounts
    buckets: list[StatsBucket]


@dataclass(slots=True)
class CurrencyRevenue:
    currency: str
    captured_minor: int = 0
    refunded_minor: int = 0
    disputed_minor: int = 0
    dispute_lost_minor: int = 0

    @property
    def net_minor(self) -> int:
        """A dispute costs the merchant when it is lost (opened, it may still be won)."""
        return self.captured_minor - self.refunded_minor - self.dispute_lost_minor

    def add(self, other: CurrencyRevenue) -> None:
        self.captured_minor += other.captured_minor
        self.refunded_minor += other.refunded_minor
        self.disputed_minor += other.disputed_minor
        self.dispute_lost_minor += other.dispute_lost_minor


@dataclass(frozen=True, slots=True)
class RevenueBucket:
    start: datetime
    amounts: list[CurrencyRevenue]
    settlement_amounts: list[CurrencyRevenue]


@dataclass(frozen=True, slots=True)
class RevenueReport:
    totals: list[CurrencyRevenue]
    settlement_totals: list[CurrencyRevenue]
    buckets: list[RevenueBucket]


@dataclass(slots=True)
class DisputeAmounts:
    currency: str
    opened_minor: int = 0
    won_minor: int = 0
    lost_minor: int = 0
    open_minor: int = 0


@dataclass(frozen=True, slots=True)
class DisputeStatsReport:
    opened: int
    won: int
    lost: int
    open: int
    amounts: list[DisputeAmounts]
    captured_payments: int

    @property
    def dispute_ratio(self) -> float:
        return _ratio(self.opened, self.captured_payments)


class AnalyticsReader(Protocol):
    """Reads the hourly buckets (never the payments)."""

    async def payment_stats(
        self, period: Period, group_by: tuple[StatsDimension, ...]
    ) -> PaymentStatsReport: ...

    async def revenue(self, period: Period) -> RevenueReport: ...

    async def dispute_stats(self, period: Period) -> DisputeStatsReport: ...
