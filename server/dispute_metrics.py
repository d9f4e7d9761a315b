"""Dispute metrics: disputes by status, and the dispute ratio with the threshold it is
alerted on (PaymentsDisputeRatioHigh: deploy/prometheus/alerts.yaml and
deploy/kubernetes/prometheusrule.yaml).

Counted in PostgreSQL at scrape time like payments by status (server/metrics.py): exact
across replicas and restarts. The disputes table is small and the GROUP BY walks the
(status, created_at, id) index of migration 0024; the ratio's denominator, the captured
payments, comes from the payments-by-status counts the same scrape already made, so the
ratio costs no query of its own. Nothing here is on a payment's request path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dispute import DisputeStatus
from domain.enums import PaymentStatus

log = logging.getLogger("payments.metrics")

_DISPUTES_BY_STATUS = text("SELECT status, count(*) FROM disputes GROUP BY status")
# Payments whose money was taken at some point: what a card network divides disputes by.
CAPTURED_STATUSES = (
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
)


def dispute_ratio(disputes: int, captured_payments: int) -> float:
    """Disputes per captured payment; 0 before anything was captured."""
    return disputes / captured_payments if captured_payments else 0.0


class DisputeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.by_status = Gauge(
            "payments_disputes_by_status",
            "Disputes (chargebacks) per status (from the database)",
            ["status"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.ratio = Gauge(
            "payments_dispute_ratio",
            "Disputes per captured payment (captured, partially refunded or refunded)",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.threshold = Gauge(
            "payments_dispute_ratio_alert_threshold",
            "The dispute ratio above which PaymentsDisputeRatioHigh fires "
            "(DISPUTE_RATIO_ALERT_THRESHOLD)",
            registry=registry,
            multiprocess_mode="mostrecent",
        )

    def alert_above(self, threshold: float) -> None:
        self.threshold.set(threshold)

    async def refresh(
        self, engine: AsyncEngine | None, payments_by_status: Mapping[str, int] | None
    ) -> None:
        """Best effort: with the database unreachable the last values stay."""
        if engine is None:
            return
        try:
            async with asyncio.timeout(5), engine.connect() as conn:
                rows = (await conn.execute(_DISPUTES_BY_STATUS)).all()
        except Exception as exc:  # a scrape must not fail because the database does
            log.warning("disputes by status not refreshed: %s", type(exc).__name__)
            return
        counts = {str(status): int(count) for status, count in rows}
        for status in DisputeStatus:  # every status, zero included (see payments by status)
            self.by_status.labels(status=status.value).set(counts.get(status.value, 0))
        if payments_by_status is not None:
            captured = sum(payments_by_status.get(s.value, 0) for s in CAPTURED_STATUSES)
            self.ratio.set(dispute_ratio(sum(counts.values()), captured))
