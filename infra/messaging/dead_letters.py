"""The dead-letter topic of the order events (`<shared topic>.dlq`, see consumer.py) as an
operator works with it: read it whole, pick records, send them back to the topic they came
from.

A replayed record is the original one (its key, value and headers) minus the headers the
consumer added when it dead-lettered it, plus `dlq_replayed_from` naming where it was on the
dead-letter topic. Replaying is idempotent where it matters, in the effect: the consumer's
inbox (`consumed_events`) records each event id once its effect is committed, so the same
event replayed twice, or replayed after it went through another way, is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from infra.messaging.clients import KafkaSecurity, producer_settings, started

# What the consumer adds when it dead-letters a record (consumer.py, _dead_letter).
DEAD_LETTER_HEADERS = frozenset(
    {"error", "error_type", "original_topic", "original_partition", "original_offset"}
)
REPLAYED_FROM = "dlq_replayed_from"

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp: datetime  # when it was dead-lettered (the record's timestamp)
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return bytes(value).decode("utf-8", errors="replace")
        return None

    @property
    def reason(self) -> str:
        return self.header("error") or ""

    @property
    def original_topic(self) -> str | None:
        return self.header("original_topic")

    @property
    def event_id(self) -> str | None:
        """The id the consumer's inbox deduplicates on (`eventId`), else the CloudEvents id;
        None for a record that is not a JSON object (poison that no replay can fix)."""
        try:
            body = json.loads(self.value or b"")
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            for field in ("eventId", "id"):
                if isinstance(body.get(field), str):
                    return str(body[field])
        return self.header("ce_id")

    def replay_headers(self) -> list[tuple[str, bytes]]:
        kept = [(k, bytes(v)) for k, v in self.headers if k not in DEAD_LETTER_HEADERS]
        return [*kept, (REPLAYED_FROM, f"{self.partition}@{self.offset}".encode())]


@dataclass(frozen=True, slots=True)
class DeadLetterSelection:
    """Which records to replay: one event id, or an offset range (inclusive; on one partition
    or, without `partition`, on each)."""

    event_id: str | None = None
    from_offset: int | None = None
    to_offset: int | None = None
    partition: int | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        if self.partition is not None and letter.partition != self.partition:
            return False
        if self.event_id is not None:
            return letter.event_id == self.event_id
        low = self.from_offset if self.from_offset is not None else 0
        high = self.to_offset if self.to_offset is not None else letter.offset
        return low <= letter.offset <= high


class DeadLetterTopic:
    def __init__(
        self,
        brokers: Sequence[str],
        topic: str,
        *,
        client_id: str,
        security: KafkaSecurity | None = None,
        enable_idempotence: bool = True,
        request_timeout_ms: int = 10_000,
    ) -> None:
        self.topic = topic
        self._brokers = list(brokers)
        self._client_id = client_id
        self._security = security or KafkaSecurity()
        self._idempotence = enable_idempotence
        self._timeout_ms = request_timeout_ms

    async def read(self, within: float = 60.0) -> list[DeadLetter]:
        """Every record on the topic, up to its end as it was when the read began, in
        (partition, offset) order. No consumer group: nothing is committed."""
        consumer = await started(
            AIOKafkaConsumer(
                bootstrap_servers=self._brokers,
                client_id=self._client_id,
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=self._timeout_ms,
                **self._security.client_options(),
            )
        )
        try:
            return await self._read_all(consumer, time.monotonic() + within)
        finally:
            await consumer.stop()

    async def _read_all(self, consumer: AIOKafkaConsumer, deadline: float) -> list[DeadLetter]:
        await consumer.topics()  # fetches the metadata: partitions_for_topic needs it
        numbers = consumer.partitions_for_topic(self.topic) or set()
        partitions = [TopicPartition(self.topic, n) for n in sorted(numbers)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while await self._behind(consumer, ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.topic} could not be read to its end in time")
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                letters.extend(
                    DeadLetter(
                        tp.partition,
                        r.offset,
                        datetime.fromtimestamp(r.timestamp / 1000, UTC),
                        r.key,
                        r.value,
                        tuple((k, bytes(v)) for k, v in r.headers or ()),
                    )
                    for r in records
                    if r.offset < ends[tp]
                )
        return sorted(letters, key=lambda d: (d.partition, d.offset))

    @staticmethod
    async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return True
        return False

    async def replay(self, letters: Iterable[DeadLetter], progress: Progress | None = None) -> int:
        """Sends each back to its original topic, one after the other (a key's records keep
        their order); returns how many were sent. Records without an original topic are
        left alone."""
        chosen = [d for d in letters if d.original_topic]
        producer = await started(
            AIOKafkaProducer(
                **producer_settings(
                    self._brokers, self._client_id, self._idempotence, self._timeout_ms,
                    self._security,
                )
            )
        )  # fmt: skip
        try:
            for done, letter in enumerate(chosen, start=1):
                assert letter.original_topic is not None
                await producer.send_and_wait(
                    letter.original_topic,
                    letter.value,
                    key=letter.key,
                    headers=letter.replay_headers(),
                )
                if progress is not None:
                    progress(done, len(chosen))
        finally:
            await producer.stop()
        return len(chosen)
