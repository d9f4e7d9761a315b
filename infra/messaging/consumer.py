"""The order events consumer: reads the order topics (the shared CloudEvents one and the
specification's per-event ones, see order_topics.py) in one consumer group and hands each known
event to its handler, committing the offset only once the handler's effect is committed.

- The event type comes from the record's per-event topic, else the CloudEvents `ce_type`
  header, else the JSON `type` or `eventType` field. Types without a handler are skipped
  (their offset committed).
- Poison (undecodable JSON, no type, a handler's permanent error): the record goes to
  `<shared topic>.dlq` with its key, its headers and `error`/`error_type`/`original_topic`
  headers, then the offset is committed and consumption goes on.
- Transient failures (database or gateway down, a retryable domain error): the same record is
  retried with exponential backoff (the consumer seeks back to it, so it keeps polling and
  stays in its group); its offset is not committed meanwhile, nothing after it on that
  partition is processed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from opentelemetry.trace import Tracer

from domain.errors import DomainError
from infra.messaging.clients import KafkaSecurity, producer_settings_of, started
from infra.messaging.order_topics import OrderTopics, decode
from infra.messaging.tracing import process_span

log = logging.getLogger("payments.consumer")

# Gets the decoded JSON object (numbers with a fraction as Decimal) and the topic it came from
# (the inbox records it; the event id alone deduplicates, whichever topic brought it).
Handler = Callable[[Mapping[str, Any], str], Awaitable[object]]


def is_transient(error: BaseException) -> bool:
    if isinstance(error, DomainError):
        return error.retryable
    return isinstance(error, OSError | TimeoutError)


@dataclass(frozen=True, slots=True)
class KafkaConsumerConfig:
    brokers: Sequence[str]
    group_id: str
    client_id: str
    enable_idempotence: bool = True
    request_timeout_ms: int = 10_000
    security: KafkaSecurity = field(default_factory=KafkaSecurity)


class OrderEventsConsumer:
    def __init__(
        self,
        config: KafkaConsumerConfig,
        *,
        topics: OrderTopics,
        handlers: Mapping[str, Handler],
        retry_base: float = 0.2,
        max_backoff: float = 10.0,
        tracer: Tracer | None = None,
        on_dead_letter: Callable[[str], object] = lambda _topic: None,
    ) -> None:
        self._config = config
        # Tracing on: handling a record continues the trace it was published in.
        self._tracer = tracer
        self._topics = topics
        self.dlq_topic = topics.dead_letter
        self._handlers = dict(handlers)
        self._retry_base = retry_base
        self._max_backoff = max_backoff
        self._on_dead_letter = on_dead_letter
        # The offsets this consumer committed, per partition: its lag is measured from them.
        self._committed: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def _connect(self) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
        c = self._config
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                *self._topics.subscribed,
                bootstrap_servers=list(c.brokers),
                group_id=c.group_id,
                client_id=c.client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=c.request_timeout_ms,
                **c.security.client_options(),
            )
            self._consumer = await started(consumer)
        if self._producer is None:
            self._producer = await started(AIOKafkaProducer(**producer_settings_of(c)))
        return self._consumer, self._producer

    async def _dead_letter(
        self, producer: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes], error: BaseException
    ) -> None:
        headers = [
            *(record.headers or ()),
            ("error", str(error)[:1000].encode()),
            ("error_type", type(error).__name__.encode()),
            ("original_topic", record.topic.encode()),
            ("original_partition", str(record.partition).encode()),
            ("original_offset", str(record.offset).encode()),
        ]
        await producer.send_and_wait(
            self.dlq_topic, record.value, key=record.key, headers=list(headers)
        )
        log.warning(
            "order events: %s-%d@%d to %s: %s",
            record.topic, record.partition, record.offset, self.dlq_topic, error,
        )  # fmt: skip
        self._on_dead_letter(record.topic)

    async def handle(
        self, producer: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """Processes one record to its end: handled, skipped or dead-lettered. Raises the
        transient error when it should be retried."""
        try:
            event_type, body = decode(record, self._topics)
            handler = self._handlers.get(event_type)
            if handler is None:
                return
            await handler(body, record.topic)
        except Exception as error:
            if is_transient(error):
                raise
            await self._dead_letter(producer, record, error)

    async def consume_once(self) -> bool:
        """Takes one record and processes it; False when it must be retried (the consumer was
        moved back to it). Raises on broker errors."""
        consumer, producer = await self._connect()
        record = await consumer.getone()
        partition = TopicPartition(record.topic, record.partition)
        try:
            if self._tracer is None:
                await self.handle(producer, record)
            else:
                with process_span(self._tracer, record.topic, record.headers):
                    await self.handle(producer, record)
        except Exception as error:
            log.warning("order events: %s, will retry %s", type(error).__name__, record.offset)
            consumer.seek(partition, record.offset)
            return False
        await consumer.commit({partition: record.offset + 1})
        self._committed[partition] = record.offset + 1
        return True

    def lag(self) -> dict[str, int]:
        """Per topic, records not consumed yet on the partitions assigned to this consumer:
        the end offset its last fetch saw minus the offset it committed. No broker call (the
        fetches bring the end offsets), so a scrape may ask; partitions it has not fetched
        or committed on yet count as 0. Topics it is subscribed to are all listed."""
        lag = dict.fromkeys(self._topics.subscribed, 0)
        consumer = self._consumer
        if consumer is None:
            return lag
        for partition in consumer.assignment():
            end = consumer.highwater(partition)
            committed = self._committed.get(partition)
            if end is not None and committed is not None:
                lag[partition.topic] = lag.get(partition.topic, 0) + max(end - committed, 0)
        return lag

    async def run(self) -> None:
        backoff = self._retry_base
        while True:
            try:
                done = await self.consume_once()
            except Exception as exc:
                log.warning("order consumer: %s; retrying in %.1fs", type(exc).__name__, backoff)
                await self._close()
                done = False
            if done:
                backoff = self._retry_base
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="order-events-consumer")

    async def _close(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()
