"""The analytics projector: counts committed outbox events into hourly buckets, each event
exactly once.

One round, in one transaction: lock a batch of outbox rows not projected yet (FOR UPDATE
SKIP LOCKED: another projector, or the relay sending them, holds some; those come in a later
round), read their events and their payments' dimensions, sum the batch in memory, add the
sums to the bucket rows (one INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE per
table, keys in one order so concurrent projectors cannot deadlock), and mark the rows
projected. The marks and the sums commit together or not at all, so a crash between rounds
neither loses nor doubles an event.

A marker per row rather than a cursor: outbox rows commit out of the order of their ids and
times, and a cursor would step over a row that commits late. The purge deletes published
rows only once they are projected (infra/messaging/relay.py).

The payment path never waits on a bucket row: only this worker writes them, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Table,
    TextClause,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.batch_loop import drain_in_batches
from infra.db.analytics_fold import (
    DISPUTE_FIGURES,
    PAYMENT_FIGURES,
    REVENUE_FIGURES,
    UNKNOWN_PAYMENT,
    BucketDeltas,
    PaymentDimensions,
    counted,
    parse_event,
)
from infra.db.outbox import legacy_event
from infra.db.tables import (
    analytics_dispute_hours,
    analytics_payment_days,
    analytics_payment_hours,
    analytics_payment_slices,
    analytics_revenue_hours,
    outbox,
    payments,
)
from infra.messaging.wire import RenderEvent

log = logging.getLogger("payments.analytics")

_O, _P = outbox.c, payments.c


class AnalyticsProjector:
    def __init__(
        self,
        engine: AsyncEngine,
        render: RenderEvent,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        on_projected: Callable[[BucketDeltas], None] | None = None,
    ) -> None:
        self._engine = engine
        # For rows stored before the published form was (revision 0016).
        self._render = render
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._on_projected = on_projected or (lambda _deltas: None)
        self._task: asyncio.Task[None] | None = None

    async def project_once(self) -> int:
        """One round; returns how many outbox rows it marked projected."""
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(
                        _O.id,
                        _O.event_type,
                        _O.value,
                        _O.payload,
                        _P.gateway,
                        _P.payment_method_type,
                        _P.currency,
                        _P.country,
                        _P.retry_count,
                    )
                    .select_from(outbox.outerjoin(payments, _P.id == _O.aggregate_id))
                    .where(_O.projected_at.is_(None))
                    .order_by(_O.created_at)
                    .limit(self._batch_size)
                    .with_for_update(of=outbox, skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            deltas = BucketDeltas()
            for row in rows:
                if counted(row.event_type):
                    self._add(deltas, row)
            await _add_to_buckets(conn, deltas)
            await conn.execute(
                update(outbox)
                .where(_O.id.in_([row.id for row in rows]))
                .values(projected_at=func.now())
            )
        self._on_projected(deltas)
        return len(rows)

    def _add(self, deltas: BucketDeltas, row: Any) -> None:
        """One row's event; a row that cannot be read is logged and left out, so that it
        cannot stop every later event from being counted."""
        one = BucketDeltas()
        try:
            one.add(row.event_type, self._event_of(row), _dimensions(row))
        except (ValueError, KeyError, TypeError):
            log.exception("analytics: outbox row %s (%s) left out", row.id, row.event_type)
            return
        deltas.merge(one)

    def _event_of(self, row: Any) -> dict[str, Any]:
        if row.value is not None:
            return parse_event(row.value)
        return parse_event(self._render(legacy_event(row.event_type, row.payload)).value)

    async def run(self) -> None:
        """Projects until cancelled: again at once after a full batch, after the poll
        interval when idle, with exponential backoff while the database fails."""

        def failed(_exc: Exception, backoff: float) -> None:
            log.exception("analytics projector failed; retrying in %.1fs", backoff)

        await drain_in_batches(
            self.project_once,
            batch_size=self._batch_size,
            poll_interval=self._poll_interval,
            max_backoff=self._max_backoff,
            on_failure=failed,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="analytics-projector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _dimensions(row: Any) -> PaymentDimensions:
    if row.gateway is None:  # the payment is gone (never, unless deleted by hand)
        return UNKNOWN_PAYMENT
    return PaymentDimensions(
        row.gateway, row.payment_method_type, row.currency, row.country, row.retry_count
    )


async def _add_to_buckets(conn: AsyncConnection, deltas: BucketDeltas) -> None:
    await _upsert(conn, analytics_payment_hours, deltas.payments, PAYMENT_FIGURES)
    await _upsert(conn, analytics_payment_slices, deltas.slices, PAYMENT_FIGURES)
    await _upsert(conn, analytics_payment_days, deltas.days, PAYMENT_FIGURES)
    await _upsert(conn, analytics_revenue_hours, deltas.revenue, REVENUE_FIGURES)
    await _upsert(conn, analytics_dispute_hours, deltas.disputes, DISPUTE_FIGURES)


def _array_type(column: Column[Any]) -> str:
    if isinstance(column.type, DateTime):
        return "timestamptz[]"
    if isinstance(column.type, BigInteger):
        return "bigint[]"
    return "text[]"


def upsert_statement(table: Table, figures: Sequence[str]) -> TextClause:
    """One statement for any number of rows: each column's values as one array, unnested
    (a bound parameter per column, not per value: no limit on a batch's rows, one plan)."""
    keys = [column.name for column in table.primary_key.columns]
    columns = [*keys, *figures]
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(table.c[name])})" for name in columns)
    added = ", ".join(f"{f} = {table.name}.{f} + EXCLUDED.{f}" for f in figures)
    # Names from the table definitions only, no input.
    return text(
        f"INSERT INTO {table.name} ({', '.join(columns)})"  # noqa: S608
        f" SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


async def _upsert(
    conn: AsyncConnection,
    table: Table,
    sums: dict[Any, Counter[str]],
    figures: Sequence[str],
) -> None:
    """Adds the sums to their rows, keys in sorted order (concurrent projectors lock rows
    in one order, so they cannot deadlock)."""
    if not sums:
        return
    keys = [column.name for column in table.primary_key.columns]
    ordered = sorted(sums)
    arrays: dict[str, list[Any]] = {
        name: [key[n] for key in ordered] for n, name in enumerate(keys)
    }
    arrays |= {f: [sums[key][f] for key in ordered] for f in figures}
    await conn.execute(upsert_statement(table, figures), arrays)
