"""The transactional outbox relay: publishes committed outbox rows to Kafka and marks them.

One round, in one transaction: lock a batch of unpublished rows (FOR UPDATE SKIP LOCKED, so
several replicas share the work without taking the same row), produce each (key = order id,
the value and CloudEvents headers stored with the row, acks=all), mark the acknowledged ones
published, commit. Rows written before the outbox stored the published form (revision 0016)
have only a neutral payload: those are rendered here, by the same renderer the outbox uses.
A broker error leaves the unacknowledged rows unpublished; they go out in a later round
(at-least-once: a row whose ack was lost may be published twice, with the same event id).

Per-key order: a row is only sent once every earlier unpublished row of its key is in the same
batch, and one key's rows are sent one after the other, each awaiting its ack. So a later event
of an order never overtakes an earlier one, even across replicas or after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry.trace import Tracer
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.batch_loop import drain_in_batches
from infra.db.outbox import legacy_event
from infra.db.tables import outbox
from infra.messaging.clients import KafkaSecurity, producer_settings_of, started
from infra.messaging.tracing import KafkaHeaders, publish_span
from infra.messaging.wire import RenderEvent

log = logging.getLogger("payments.outbox")

_T = outbox.c
# OutboxMessage's fields, in order.
_BATCH_COLUMNS = (
    _T.id, _T.message_key, _T.value, _T.headers, _T.event_type, _T.payload, _T.traceparent,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    message_key: str
    # The stored published form; None in rows written before revision 0016.
    value: bytes | None
    headers: list[list[str]] | None
    # What those older rows hold instead.
    event_type: str
    payload: dict[str, Any] | None
    # The trace the event was committed in (tracing on), continued by its publish.
    traceparent: str | None = None

    def published_form(self, render: RenderEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
        """(value, Kafka headers): as stored, or an older row's payload rendered now."""
        if self.value is not None and self.headers is not None:
            return self.value, [(name, text.encode()) for name, text in self.headers]
        if self.payload is None:
            raise ValueError(f"outbox row {self.id} has neither value nor payload")
        wire = render(legacy_event(self.event_type, self.payload))
        return wire.value, wire.kafka_headers()


@dataclass(frozen=True, slots=True)
class KafkaProducerConfig:
    brokers: Sequence[str]
    client_id: str
    enable_idempotence: bool = True
    request_timeout_ms: int = 10_000
    security: KafkaSecurity = field(default_factory=KafkaSecurity)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: KafkaProducerConfig,
        *,
        topic: str,
        render: RenderEvent,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        max_backoff: float = 10.0,
        send_timeout: float = 15.0,
        on_published: Callable[[int], None] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._engine = engine
        # Tracing on: each publish is a span of the trace its event was committed in.
        self._tracer = tracer
        self._config = producer
        self._topic = topic
        # For rows stored before the published form was (revision 0016).
        self._render = render
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._send_timeout = send_timeout
        self._on_published = on_published or (lambda _n: None)
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def _started_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            settings = producer_settings_of(self._config)
            self._producer = await started(AIOKafkaProducer(**settings))
        return self._producer

    async def publish_once(self) -> int:
        """One round; returns how many rows it published. Raises on a broker error (after
        marking what was acknowledged)."""
        producer = await self._started_producer()
        async with self._engine.begin() as conn:
            batch = await self._lock_batch(conn)
            if not batch:
                return 0
            chains: dict[str, list[OutboxMessage]] = {}
            for message in batch:
                chains.setdefault(message.message_key, []).append(message)
            acked: list[str] = []
            results = await asyncio.gather(
                *(self._send_chain(producer, chain, acked) for chain in chains.values()),
                return_exceptions=True,
            )
            if acked:
                await conn.execute(
                    update(outbox).where(_T.id.in_(acked)).values(published_at=func.now())
                )
        self._on_published(len(acked))
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(acked)

    async def _lock_batch(self, conn: AsyncConnection) -> list[OutboxMessage]:
        rows = (
            await conn.execute(
                select(*_BATCH_COLUMNS)
                .where(_T.published_at.is_(None))
                .order_by(_T.created_at, _T.id)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        batch = [OutboxMessage(*row) for row in rows]
        if not batch:
            return []
        return await self._heads_of_keys(conn, batch)

    @staticmethod
    async def _heads_of_keys(
        conn: AsyncConnection, batch: list[OutboxMessage]
    ) -> list[OutboxMessage]:
        """Drops the rows of a key that come after an unpublished row of that key which is
        not in this batch (another relay holds it, or it fell outside the batch)."""
        mine = {m.id for m in batch}
        pending = (
            await conn.execute(
                select(_T.id, _T.message_key)
                .where(
                    _T.published_at.is_(None), _T.message_key.in_({m.message_key for m in batch})
                )
                .order_by(_T.created_at, _T.id)
            )
        ).all()
        blocked: set[str] = set()
        allowed: set[str] = set()
        for row in pending:
            if row.message_key in blocked:
                continue
            if row.id in mine:
                allowed.add(row.id)
            else:
                blocked.add(row.message_key)
        return [m for m in batch if m.id in allowed]

    async def _send_chain(
        self, producer: AIOKafkaProducer, chain: list[OutboxMessage], acked: list[str]
    ) -> None:
        for message in chain:
            value, headers = message.published_form(self._render)
            if self._tracer is None:
                await self._send(producer, message, value, headers)
            else:
                with publish_span(
                    self._tracer, self._topic, message.traceparent, headers
                ) as traced_headers:
                    await self._send(producer, message, value, traced_headers)
            acked.append(message.id)

    async def _send(
        self,
        producer: AIOKafkaProducer,
        message: OutboxMessage,
        value: bytes,
        headers: KafkaHeaders,
    ) -> None:
        async with asyncio.timeout(self._send_timeout):
            await producer.send_and_wait(
                self._topic, value, key=message.message_key.encode(), headers=headers
            )

    async def purge(self, published_before: datetime) -> int:
        """Deletes rows published before then, once the analytics projector counted them."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    _T.published_at < published_before, _T.projected_at.is_not(None)
                )
            )
        return int(result.rowcount)

    async def run(self) -> None:
        """Publishes until cancelled: again at once after a full batch, after the poll
        interval when idle, with exponential backoff while the broker or database fails."""

        def failed(exc: Exception, backoff: float) -> None:
            log.warning("outbox relay: %s; retrying in %.1fs", type(exc).__name__, backoff)

        await drain_in_batches(
            self.publish_once,
            batch_size=self._batch_size,
            poll_interval=self._poll_interval,
            max_backoff=self._max_backoff,
            on_failure=failed,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()
