"""The pure comparison behind `reconcile-report`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain.enums import PaymentStatus
from domain.reconciliation_report import (
    Difference,
    PaymentRecord,
    RecordStatus,
    coarse_status,
    reconcile,
)

START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(days=1)
NOON = START + timedelta(hours=12)


def record(reference: str, **changes: object) -> PaymentRecord:
    base = PaymentRecord(reference, "EUR", 1000, 1000, 0, RecordStatus.CAPTURED, NOON)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_matches_mismatches_and_what_each_side_lacks() -> None:
    ours = [
        record("same", payment_id="p1"),
        record("refund_missed", payment_id="p2"),
        record("only_ours", payment_id="p3"),
    ]
    theirs = [
        record("same"),
        record("refund_missed", refunded_minor=300),
        record("only_theirs"),
        record("theirs_before", created_at=START - timedelta(minutes=5)),  # the margin
    ]
    report = reconcile(ours, theirs, START, END)
    assert [r.payment_id for r in report.matched] == ["p1"]
    [mismatch] = report.mismatched
    assert mismatch.differences == (Difference("refunded_minor", "0", "300"),)
    assert [r.payment_id for r in report.missing_at_gateway] == ["p3"]
    assert [r.reference for r in report.missing_here] == ["only_theirs"]
    assert not report.all_match


def test_one_of_ours_just_before_the_period_matches_a_record_in_the_margin() -> None:
    ours = [record("late", payment_id="p1")]
    theirs = [record("late", created_at=END + timedelta(seconds=1))]
    report = reconcile(ours, theirs, START, END)
    assert report.all_match and len(report.matched) == 1


def test_refunds_are_amounts_not_statuses() -> None:
    for status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        assert coarse_status(status) is RecordStatus.CAPTURED
    assert coarse_status(PaymentStatus.UNDER_REVIEW) is RecordStatus.PENDING
    assert {coarse_status(s) for s in PaymentStatus} == set(RecordStatus)
