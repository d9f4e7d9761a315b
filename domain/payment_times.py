"""When a Payment reached each milestone of its life (set by its transitions): one value
object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PaymentTimes:
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_at: datetime | None = None
