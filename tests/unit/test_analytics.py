"""The analytics domain: periods (validation, whole buckets), the figures of a set of counts,
and the fold of published events into bucket deltas (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.analytics import (
    Granularity,
    OutcomeCounts,
    StatsDimension,
    dimensions_of,
    period_of,
)
from domain.errors import ValidationFailed
from infra.db.analytics_fold import BucketDeltas, PaymentDimensions, grouping_name, parse_event
from infra.db.analytics_reader import days_query

T = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def _fields(error: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [v.field for v in error.value.violations]


def test_a_period_is_widened_to_whole_buckets() -> None:
    by_hour = period_of(T, T + timedelta(minutes=100), Granularity.HOUR)
    # 10:30 to 12:10 reads the hours 10, 11 and 12.
    assert (by_hour.start, by_hour.end) == (T.replace(minute=0), T.replace(hour=13, minute=0))
    by_day = period_of(T, T + timedelta(hours=1), Granularity.DAY)
    assert (by_day.start, by_day.end) == (
        T.replace(hour=0, minute=0),
        datetime(2026, 12, 8, tzinfo=UTC),
    )
    exact = period_of(T.replace(minute=0), T.replace(hour=11, minute=0), Granularity.HOUR)
    assert exact.end == T.replace(hour=11, minute=0)


def test_every_problem_of_a_period_is_reported() -> None:
    with pytest.raises(ValidationFailed) as missing:
        period_of(None, None, None)
    assert _fields(missing) == ["start_time", "end_time", "granularity"]
    with pytest.raises(ValidationFailed) as backwards:
        period_of(T, T, Granularity.HOUR)
    assert _fields(backwards) == ["end_time"]
    with pytest.raises(ValidationFailed) as too_long:
        period_of(T, T + timedelta(days=94), Granularity.HOUR)
    assert _fields(too_long) == ["end_time"]
    assert period_of(T, T + timedelta(days=94), Granularity.DAY).granularity is Granularity.DAY
    assert period_of(T, T + timedelta(days=999), Granularity.HOUR, bounded=False)


def test_group_by_refuses_unknown_and_repeated_dimensions() -> None:
    assert dimensions_of([StatsDimension.CURRENCY]) == (StatsDimension.CURRENCY,)
    with pytest.raises(ValidationFailed) as bad:
        dimensions_of([StatsDimension.GATEWAY, None, StatsDimension.GATEWAY])
    assert _fields(bad) == ["group_by[1]", "group_by[2]"]


def test_rates_and_top_decline_codes() -> None:
    counts = OutcomeCounts(attempts=4, authorized=1, failed=3, retry_attempts=2)
    counts.failures = {"B_CODE": 1, "A_CODE": 1, "CARD_DECLINED": 1}
    more = OutcomeCounts(attempts=1, failed=1, failures={"CARD_DECLINED": 1})
    counts.add(more)
    assert counts.success_rate == 1 / 5
    assert counts.retry_success_rate == 0.0
    assert counts.top_decline_codes(2) == [("CARD_DECLINED", 2), ("A_CODE", 1)]
    assert OutcomeCounts().success_rate == 0.0


def test_the_fold_sums_events_per_bucket_key() -> None:
    card = PaymentDimensions("SIMULATOR", "CREDIT_CARD", "EUR", "DE", retry_count=1)
    deltas = BucketDeltas()
    captured = json.dumps(
        {"timestamp": "2026-12-07T10:59:59.999Z", "amountMinor": 1099, "currency": "EUR",
         "amount": 10.99, "settlementCurrency": "USD", "settlementAmountMinor": 1200}
    ).encode()  # fmt: skip
    failed = b'{"timestamp": "2026-12-07T11:00:00Z", "failureCode": "", "retryAttempt": 2}'
    deltas.add("payment.successful", parse_event(captured), card)
    deltas.add("payment.successful", parse_event(captured), card)
    deltas.add("payment.failed", parse_event(failed), card)
    deltas.add("payment.requires_action", {}, card)  # no outcome: nothing
    ten, eleven = T.replace(minute=0), T.replace(hour=11, minute=0)
    assert deltas.payments[(ten, "SIMULATOR", "CREDIT_CARD", "EUR", "DE", "")]["captured"] == 2
    failure = deltas.payments[(eleven, "SIMULATOR", "CREDIT_CARD", "EUR", "DE", "UNKNOWN")]
    assert (failure["attempts"], failure["failed"], failure["retry_attempts"]) == (1, 1, 1)
    # The slices: all payments and each dimension alone, by hour and by day.
    day = T.replace(hour=0, minute=0)
    assert deltas.slices[("h", "", ten, "", "")]["captured"] == 2
    assert deltas.slices[("d", "country", day, "DE", "")]["captured"] == 2
    assert deltas.slices[("d", "gateway", day, "SIMULATOR", "UNKNOWN")]["failed"] == 1
    assert len(deltas.slices) == 2 * 5 * 2  # spans x (all + 4 dimensions) x codes
    # The day's groupings of two dimensions or more, the others' columns ''.
    pair = deltas.days[("gateway,currency", day, "SIMULATOR", "", "EUR", "", "")]
    assert pair["captured"] == 2
    full = ("gateway,payment_method_type,currency,country", day, "SIMULATOR", "CREDIT_CARD",
            "EUR", "DE", "UNKNOWN")  # fmt: skip
    assert (deltas.days[full]["failed"], deltas.days[full]["retry_attempts"]) == (1, 1)
    assert len(deltas.days) == 11 * 2  # groupings (6 pairs, 4 triples, 1 of all) x codes
    assert grouping_name(["currency", "gateway"]) == "gateway,currency"
    assert deltas.revenue[(ten, "payment", "EUR")]["captured_minor"] == 2198
    assert deltas.revenue[(ten, "settlement", "USD")]["captured_minor"] == 2400


def test_disputes_open_close_and_lower_the_net_when_lost() -> None:
    card = PaymentDimensions("STRIPE", "CREDIT_CARD", "EUR", "DE", retry_count=0)
    deltas = BucketDeltas()
    opened = {"timestamp": "2026-12-07T10:05:00Z", "amountMinor": 500, "currency": "EUR"}
    deltas.add("payment.disputed", opened, card)
    deltas.add("payment.disputed", opened, card)
    lost = opened | {"timestamp": "2026-12-07T10:45:00Z", "outcome": "LOST"}
    won = lost | {"outcome": "WON"}
    deltas.add("payment.dispute_closed", lost, card)
    deltas.add("payment.dispute_closed", won, card)
    ten = T.replace(minute=0)
    disputes = deltas.disputes[(ten, "EUR")]
    assert (disputes["opened"], disputes["lost"], disputes["won"]) == (2, 1, 1)
    assert (disputes["opened_minor"], disputes["lost_minor"]) == (1000, 500)
    money = deltas.revenue[(ten, "payment", "EUR")]
    assert (money["disputed_minor"], money["dispute_lost_minor"]) == (1000, 500)


def test_the_day_rows_serve_reports_by_day_of_two_dimensions_or_more() -> None:
    by_hour = period_of(T, T + timedelta(days=1), Granularity.HOUR)
    by_day = period_of(T, T + timedelta(days=1), Granularity.DAY)
    two = (StatsDimension.CURRENCY, StatsDimension.GATEWAY)
    assert days_query(by_day, two) is not None
    assert days_query(by_hour, two) is None  # by hour: every combination's hour rows
    # One dimension and the failure code: the slices.
    assert days_query(by_day, (StatsDimension.GATEWAY, StatsDimension.FAILURE_CODE)) is None
    assert days_query(by_day, ()) is None
