"""AnalyticsService: proto requests to the domain's terms, reports to proto responses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from domain.analytics import (
    CurrencyRevenue,
    DisputeStatsReport,
    Granularity,
    OutcomeCounts,
    PaymentStatsReport,
    RevenueReport,
    StatsDimension,
)
from domain.errors import FieldViolation, ValidationFailed
from payments.v1 import analytics_service_pb2 as pb

_GRANULARITIES = {
    pb.ANALYTICS_GRANULARITY_HOUR: Granularity.HOUR,
    pb.ANALYTICS_GRANULARITY_DAY: Granularity.DAY,
}
_DIMENSIONS = {
    pb.PAYMENT_STATS_DIMENSION_GATEWAY: StatsDimension.GATEWAY,
    pb.PAYMENT_STATS_DIMENSION_PAYMENT_METHOD_TYPE: StatsDimension.PAYMENT_METHOD_TYPE,
    pb.PAYMENT_STATS_DIMENSION_CURRENCY: StatsDimension.CURRENCY,
    pb.PAYMENT_STATS_DIMENSION_COUNTRY: StatsDimension.COUNTRY,
    pb.PAYMENT_STATS_DIMENSION_FAILURE_CODE: StatsDimension.FAILURE_CODE,
}


def moment(request: object, name: str) -> datetime | None:
    """The timestamp field `name`, None when unset."""
    if not request.HasField(name):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(request, name)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except ValueError:  # seconds outside 0001-01-01..9999-12-31: no instant at all
        raise ValidationFailed(
            [FieldViolation(name, "must be between 0001-01-01 and 9999-12-31")]
        ) from None


def granularity(value: int) -> Granularity | None:
    return _GRANULARITIES.get(value)


def dimensions(values: Iterable[int]) -> list[StatsDimension | None]:
    return [_DIMENSIONS.get(value) for value in values]


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def _stats(counts: OutcomeCounts) -> pb.PaymentStats:
    return pb.PaymentStats(
        attempts=counts.attempts,
        authorized=counts.authorized,
        captured=counts.captured,
        failed=counts.failed,
        success_rate=counts.success_rate,
        top_decline_codes=[
            pb.DeclineCodeCount(failure_code=code, count=count)
            for code, count in counts.top_decline_codes()
        ],
        retry_attempts=counts.retry_attempts,
        retry_authorized=counts.retry_authorized,
        retry_success_rate=counts.retry_success_rate,
    )


def payment_stats_response(report: PaymentStatsReport) -> pb.GetPaymentStatsResponse:
    return pb.GetPaymentStatsResponse(
        total=_stats(report.total),
        buckets=[
            pb.PaymentStatsBucket(
                start_time=_stamp(bucket.start),
                stats=_stats(bucket.counts),
                **{dimension.value: value for dimension, value in bucket.group.items()},
            )
            for bucket in report.buckets
        ],
    )


def _money(amounts: Iterable[CurrencyRevenue]) -> list[pb.CurrencyRevenue]:
    return [
        pb.CurrencyRevenue(
            currency=m.currency,
            captured_amount_minor=m.captured_minor,
            refunded_amount_minor=m.refunded_minor,
            disputed_amount_minor=m.disputed_minor,
            net_amount_minor=m.net_minor,
            dispute_lost_amount_minor=m.dispute_lost_minor,
        )
        for m in amounts
    ]


def revenue_response(report: RevenueReport) -> pb.GetRevenueResponse:
    return pb.GetRevenueResponse(
        totals=_money(report.totals),
        settlement_totals=_money(report.settlement_totals),
        buckets=[
            pb.RevenueBucket(
                start_time=_stamp(bucket.start),
                amounts=_money(bucket.amounts),
                settlement_amounts=_money(bucket.settlement_amounts),
            )
            for bucket in report.buckets
        ],
    )


def dispute_stats_response(report: DisputeStatsReport) -> pb.GetDisputeStatsResponse:
    return pb.GetDisputeStatsResponse(
        opened=report.opened,
        won=report.won,
        lost=report.lost,
        open=report.open,
        amounts=[
            pb.DisputeAmounts(
                currency=a.currency,
                opened_amount_minor=a.opened_minor,
                won_amount_minor=a.won_minor,
                lost_amount_minor=a.lost_minor,
                open_amount_minor=a.open_minor,
            )
            for a in report.amounts
        ],
        captured_payments=report.captured_payments,
        dispute_ratio=report.dispute_ratio,
    )
