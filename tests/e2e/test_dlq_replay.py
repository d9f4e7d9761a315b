"""`payment-service dlq list | replay` against a real broker (Tansu) and a running consumer:
dead-lettered order events are listed with their offset, event id and reason, and replayed
to the topic they came from; replaying the same event twice pays the order once (the
consumer's inbox deduplicates by event id)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.e2e.helpers import new_id
from tests.e2e.test_order_events_consumer import (
    DLQ,
    ORDERS,
    PAYMENTS,
    order_confirmed,
    payments_of,
    producer,
    reader,
    running_app,
    types_for,
    user_with_default_card,
)
from tests.integration.test_operator_commands import run as run_cli
from tests.support import databases
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually


@pytest.fixture(scope="module")
def dlq_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_dlq") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(ORDERS, DLQ, PAYMENTS))
    yield server
    server.stop()


def dead_letter_headers(original_offset: int, error: str) -> list[tuple[str, bytes]]:
    """What the consumer adds when it dead-letters a record (infra/messaging/consumer.py)."""
    return [
        ("error", error.encode()),
        ("error_type", b"InvalidOrderEvent"),
        ("original_topic", ORDERS.encode()),
        ("original_partition", b"0"),
        ("original_offset", str(original_offset).encode()),
    ]


async def dlq(broker: TansuBroker, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"KAFKA_BROKERS": broker.bootstrap, "KAFKA_ENABLE_IDEMPOTENCE": "false"}
    return await asyncio.to_thread(run_cli, "dlq", *args, **env)


def listed(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


async def test_list_and_replay_twice_pays_once(dlq_database_url: str, broker: TansuBroker) -> None:
    async with (
        running_app(dlq_database_url, broker) as channel,
        reader(broker, DLQ) as dead,
        reader(broker, PAYMENTS) as published,
        producer(broker) as kafka,
    ):
        user, order = await user_with_default_card(channel), new_id()
        event_id, value = order_confirmed(user, order)
        key = order.encode()  # one key: one partition, the poison after the order event
        await kafka.send_and_wait(
            DLQ, value, key=key, headers=[("ce_type", b"order.confirmed"),
                                          *dead_letter_headers(7, "the payments DB said no")],
        )  # fmt: skip
        await kafka.send_and_wait(
            DLQ, b"{not json", key=key, headers=dead_letter_headers(8, "not JSON: at 1")
        )

        rows = listed(await dlq(broker, "list", "--format", "json"))
        assert [(r["eventId"], r["originalTopic"]) for r in rows] == [
            (event_id, ORDERS),
            (None, ORDERS),
        ]
        assert rows[0]["reason"] == "the payments DB said no"
        assert rows[0]["offset"] == 0 and rows[1]["offset"] == 1
        assert rows[0]["time"]
        table = await dlq(broker, "list")
        assert event_id in table.stdout and "2 dead-lettered record(s)" in table.stdout

        by_id = await dlq(broker, "replay", "--event-id", event_id)
        assert by_id.returncode == 0, by_id.stderr
        assert "replayed 1 of 1 record(s)" in by_id.stdout
        assert "dlq replay: 1/1" in by_id.stderr  # progress on stderr
        await wait_for_payment_events(published, order, 1)

        partition = str(rows[0]["partition"])
        # Everything again, the same order event included: the inbox skips it.
        again = await dlq(broker, "replay", "--from-offset", "0", "--to-offset", "1",
                          "--partition", partition)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert "replayed 2 of 2 record(s)" in again.stdout

        async def poison_back() -> bool:  # after the order event on its partition: handled
            await dead.poll()
            return len(dead.records) >= 3

        await eventually(poison_back, within=20)
        back = dead.records[2]
        headers = [k for k, _ in back.headers]
        assert headers.count("error") == 1  # the old dead-letter headers were not replayed
        assert dict(back.headers)["dlq_replayed_from"] == f"{partition}@1".encode()
        await published.poll()
        assert await payments_of(dlq_database_url, order) == 1
        assert types_for(published, order) == ["payment.authorized"]


async def wait_for_payment_events(published: Any, order: str, count: int) -> None:
    async def arrived() -> bool:
        await published.poll()
        return len(types_for(published, order)) >= count

    await eventually(arrived, within=20)


async def test_replay_of_nothing_says_so(broker: TansuBroker) -> None:
    missing = await dlq(broker, "replay", "--event-id", new_id())
    assert missing.returncode == 1
    assert "no dead-lettered record matches" in missing.stderr
    assert listed(await dlq(broker, "list", "--format", "json")) == []
