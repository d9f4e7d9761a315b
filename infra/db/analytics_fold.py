"""What the analytics projector adds to the hourly buckets for a batch of outbox rows: each
event's published JSON read back (amounts as integers of minor units, never a float), joined
with its payment's dimensions, and summed per bucket key in memory.

A payment's dimensions are read from its row when the event is projected: gateway, method,
currency and country do not change once a payment has been authorized (a fail-over to
another gateway happens before any gateway saw it, so before any outcome event).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import combinations
from typing import Any

from domain.dispute import closing_status

# Events that are no outcome (payment.requires_action, .cancelled, .requires_review) are
# marked projected and add nothing.
AUTHORIZED = "payment.authorized"
CAPTURED = "payment.successful"
FAILED = "payment.failed"
REFUNDED = "payment.refunded"
DISPUTED = "payment.disputed"
DISPUTE_CLOSED = "payment.dispute_closed"

# (hour, gateway, payment_method_type, currency, country, failure_code)
PaymentKey = tuple[datetime, str, str, str, str, str]
PAYMENT_FIGURES = (
    "attempts",
    "authorized",
    "captured",
    "failed",
    "retry_attempts",
    "retry_authorized",
)
# (span, dimension, bucket, value, failure_code): span "h" or "d"; dimension "" (all) or one
# of SLICED with its value.
SliceKey = tuple[str, str, datetime, str, str]
SLICED = ("gateway", "payment_method_type", "currency", "country")
# (dimensions, day, gateway, payment_method_type, currency, country, failure_code): a UTC
# day's figures per value of two dimensions or more (`dimensions`, their names in SLICED's
# order joined by ","; the columns of the others are ''). Every such grouping is kept, so a
# report split by any of them reads its own groups' rows only.
DayKey = tuple[str, datetime, str, str, str, str, str]
GROUPINGS: tuple[tuple[int, ...], ...] = tuple(
    kept for size in range(2, len(SLICED) + 1) for kept in combinations(range(len(SLICED)), size)
)


def grouping_name(dimensions: tuple[str, ...] | list[str]) -> str:
    """The `dimensions` value of a grouping: its names in SLICED's order."""
    return ",".join(name for name in SLICED if name in dimensions)


_GROUPING_NAMES = tuple(",".join(SLICED[i] for i in kept) for kept in GROUPINGS)
# (hour, basis, currency); basis "payment" or "settlement"
RevenueKey = tuple[datetime, str, str]
REVENUE_FIGURES = ("captured_minor", "refunded_minor", "disputed_minor", "dispute_lost_minor")
# (hour, currency)
DisputeKey = tuple[datetime, str]
DISPUTE_FIGURES = (
    "opened",
    "won",
    "lost",
    "closed",
    "opened_minor",
    "won_minor",
    "lost_minor",
    "closed_minor",
)


@dataclass(frozen=True, slots=True)
class PaymentDimensions:
    gateway: str
    payment_method_type: str
    currency: str
    country: str
    retry_count: int


UNKNOWN_PAYMENT = PaymentDimensions("", "", "", "", 0)


@dataclass(slots=True)
class BucketDeltas:
    payments: dict[PaymentKey, Counter[str]] = field(default_factory=dict)
    slices: dict[SliceKey, Counter[str]] = field(default_factory=dict)
    days: dict[DayKey, Counter[str]] = field(default_factory=dict)
    revenue: dict[RevenueKey, Counter[str]] = field(default_factory=dict)
    disputes: dict[DisputeKey, Counter[str]] = field(default_factory=dict)

    def _count(self, key: PaymentKey, figures: dict[str, int]) -> None:
        """Adds to the key's combination, to its slices (all, and each dimension alone,
        by hour and by day) and to its day's groupings of two dimensions or more."""
        self.payments.setdefault(key, Counter()).update(figures)
        hour, *dimensions, code = key
        day = hour.replace(hour=0)
        for span, bucket in (("h", hour), ("d", day)):
            self.slices.setdefault((span, "", bucket, "", code), Counter()).update(figures)
            for name, value in zip(SLICED, dimensions, strict=True):
                self.slices.setdefault((span, name, bucket, value, code), Counter()).update(figures)
        for name, kept in zip(_GROUPING_NAMES, GROUPINGS, strict=True):
            g, m, c, k = (v if i in kept else "" for i, v in enumerate(dimensions))
            self.days.setdefault((name, day, g, m, c, k, code), Counter()).update(figures)

    def _revenue(self, key: RevenueKey) -> Counter[str]:
        return self.revenue.setdefault(key, Counter())

    def _dispute(self, key: DisputeKey) -> Counter[str]:
        return self.disputes.setdefault(key, Counter())

    def add(self, event_type: str, event: dict[str, Any], payment: PaymentDimensions) -> None:
        """Adds one event (its published JSON) of `payment`."""
        if event_type not in _COUNTED:
            return
        hour = _hour(event["timestamp"])
        p = payment

        def key(failure_code: str = "") -> PaymentKey:
            currency = p.currency or str(event.get("currency") or "")
            return (hour, p.gateway, p.payment_method_type, currency, p.country, failure_code)

        if event_type == AUTHORIZED:
            retry = int(p.retry_count > 0)
            self._count(
                key(),
                {"attempts": 1, "authorized": 1, "retry_attempts": retry,
                 "retry_authorized": retry},
            )  # fmt: skip
        elif event_type == FAILED:
            retry = int(int(event.get("retryAttempt") or 0) > 0)
            code = str(event.get("failureCode") or "UNKNOWN")
            self._count(key(code), {"attempts": 1, "failed": 1, "retry_attempts": retry})
        elif event_type == CAPTURED:
            self._count(key(), {"captured": 1})
            self._money(hour, event, "captured_minor")
        elif event_type == REFUNDED:
            self._money(hour, event, "refunded_minor")
        elif event_type == DISPUTED:
            self._dispute_opened(hour, event)
        elif event_type == DISPUTE_CLOSED:
            self._dispute_closed(hour, event)

    def _money(self, hour: datetime, event: dict[str, Any], figure: str) -> None:
        self._revenue((hour, "payment", str(event["currency"]))).update(
            {figure: int(event["amountMinor"])}
        )
        settlement = str(event.get("settlementCurrency") or "")
        if settlement:
            self._revenue((hour, "settlement", settlement)).update(
                {figure: int(event.get("settlementAmountMinor") or 0)}
            )

    def _dispute_opened(self, hour: datetime, event: dict[str, Any]) -> None:
        currency, amount = str(event["currency"]), int(event["amountMinor"])
        self._dispute((hour, currency)).update(opened=1, opened_minor=amount)
        self._revenue((hour, "payment", currency)).update(disputed_minor=amount)

    def _dispute_closed(self, hour: datetime, event: dict[str, Any]) -> None:
        currency, amount = str(event["currency"]), int(event["amountMinor"])
        outcome = closing_status(str(event.get("outcome") or event.get("status") or "")).lower()
        self._dispute((hour, currency)).update({outcome: 1, f"{outcome}_minor": amount})
        if outcome == "lost":
            self._revenue((hour, "payment", currency)).update(dispute_lost_minor=amount)

    def merge(self, other: BucketDeltas) -> None:
        for mine, theirs in (
            (self.payments, other.payments),
            (self.slices, other.slices),
            (self.days, other.days),
            (self.revenue, other.revenue),
            (self.disputes, other.disputes),
        ):
            for key, sums in theirs.items():
                mine.setdefault(key, Counter()).update(sums)  # type: ignore[arg-type]

    @property
    def empty(self) -> bool:
        return not (self.payments or self.slices or self.days or self.revenue or self.disputes)


_COUNTED = frozenset({AUTHORIZED, CAPTURED, FAILED, REFUNDED, DISPUTED, DISPUTE_CLOSED})


def counted(event_type: str) -> bool:
    return event_type in _COUNTED


def _hour(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def parse_event(value: bytes) -> dict[str, Any]:
    """The published JSON; its decimal amounts as Decimal (the figures use the *_minor
    integers)."""
    parsed: dict[str, Any] = json.loads(value, parse_float=Decimal)
    return parsed
