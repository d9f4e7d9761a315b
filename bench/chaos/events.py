"""A tap on the payment events topic: reads every record from the beginning, all along the
run, so that what the broker held before it was stopped (memory storage: a restart forgets
its topics) is still known afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition


@dataclass(frozen=True, slots=True)
class SeenEvent:
    event_id: str
    event_type: str
    value: bytes


class EventTap:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap, self._topic = bootstrap, topic
        self.seen: list[SeenEvent] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """From the beginning of the topic as the broker now has it."""
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()
        await self._consumer.topics()
        numbers = self._consumer.partitions_for_topic(self._topic) or set()
        partitions = [TopicPartition(self._topic, n) for n in sorted(numbers)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._poll(self._consumer))

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    headers = {k: bytes(v).decode() for k, v in r.headers or ()}
                    self.seen.append(
                        SeenEvent(
                            headers.get("ce_id", ""), headers.get("ce_type", ""), r.value or b""
                        )
                    )

    async def caught_up(self) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if await consumer.position(tp) < ends[tp]:
                return False
        return True

    async def wait_caught_up(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if await self.caught_up():
                    return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None
