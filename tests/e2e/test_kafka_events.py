"""Payment events on a real Kafka-compatible broker (Tansu), read back as an external service
would: the specification's JSON, exact decimal amounts, CloudEvents headers, the order id as
key; nothing lost while the broker is down; two relays never publish a row twice.

These tests own a database of their own: other tests' servers (subprocesses with an embedded
broker) must not relay these rows elsewhere."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.events import DomainEvent, PaymentCancelled
from infra.db import commit_writes
from infra.db.commit_writes import CommitWrites
from infra.db.engine import make_engine
from infra.db.tables import outbox
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc
from server.app import PaymentApplication
from server.messaging import build_outbox_relay, event_renderer
from server.metrics import ServiceMetrics
from tests.e2e.helpers import create_request, new_id
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.event_samples import fresh_events
from tests.support.event_shapes import EXTRA_KEYS, SPEC_KEYS
from tests.support.kafka_broker import TansuBroker
from tests.support.legacy_outbox import legacy_payload
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.wire import RENDER

TOPIC = "payment.events"


@pytest.fixture(scope="module")
def events_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_events") as url:
        yield url


@pytest.fixture(scope="module")
async def events_engine(events_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(events_database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(TOPIC,))
    yield server
    server.stop()


@asynccontextmanager
async def running_app(
    database_url: str, broker: TansuBroker
) -> AsyncIterator[tuple[PaymentApplication, payment_service_pb2_grpc.PaymentServiceStub]]:
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        outbox_poll_interval_seconds=0.05,
    )
    app = PaymentApplication(
        settings, database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    try:
        async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            yield app, payment_service_pb2_grpc.PaymentServiceStub(channel)
    finally:
        await app.stop(grace=1)


class TopicReader:
    """Everything on the topic since the beginning, as an external consumer sees it."""

    def __init__(self, broker: TansuBroker) -> None:
        self.consumer = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def poll(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=100)
        for records in batches.values():
            self.records.extend(records)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.value or b"", parse_float=Decimal) for r in self.records]

    def event_ids(self) -> list[str]:
        return [e["eventId"] for e in self.events()]


@asynccontextmanager
async def topic_reader(broker: TansuBroker) -> AsyncIterator[TopicReader]:
    reader = TopicReader(broker)
    await reader.consumer.start()
    try:
        yield reader
    finally:
        await reader.consumer.stop()


async def test_lifecycle_events_carry_the_specified_json(
    events_database_url: str, broker: TansuBroker
) -> None:
    # ISO 4217 minor units: IQD has three decimals (CLDR says none), HUF two (CLDR: none).
    amounts = {("EUR", 1099): Decimal("10.99"), ("JPY", 500): Decimal("500"),
               ("KWD", 1234): Decimal("1.234"), ("IQD", 1234): Decimal("1.234"),
               ("HUF", 150000): Decimal("1500.00")}  # fmt: skip
    async with running_app(events_database_url, broker) as (_, stub), topic_reader(broker) as r:
        orders: dict[str, tuple[str, int]] = {}
        payment_ids: dict[str, str] = {}
        for currency, minor in amounts:
            created = await stub.CreatePayment(
                create_request(amount_minor=minor, currency=currency, authorize=True)
            )
            pid = created.payment.payment_id
            await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
            orders[created.payment.order_id] = (currency, minor)
            payment_ids[created.payment.order_id] = pid
        refunded_order = next(iter(orders))
        refund = await stub.RefundPayment(
            pb.RefundPaymentRequest(payment_id=payment_ids[refunded_order], amount_minor=99)
        )

        def mine() -> list[ConsumerRecord[bytes, bytes]]:
            return [x for x in r.records if (x.key or b"").decode() in orders]

        async def all_arrived() -> bool:
            await r.poll()
            return len(mine()) == 2 * len(orders) + 1

        await eventually(all_arrived, within=15)

    by_order: dict[str, list[dict[str, Any]]] = {}
    for record in mine():
        event = json.loads(record.value or b"", parse_float=Decimal)
        headers = {k: v.decode() for k, v in record.headers}
        event_type = headers["ce_type"]
        assert headers["ce_id"] == event["eventId"]
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_source"]
        assert headers["ce_time"].endswith("Z")
        assert headers["content-type"] == "application/json"
        assert (record.key or b"").decode() == event.get("orderId")
        keys = set(event)
        assert SPEC_KEYS[event_type] <= keys
        assert keys - SPEC_KEYS[event_type] <= EXTRA_KEYS
        assert event["timestamp"].endswith("Z")
        by_order.setdefault(record.key.decode(), []).append(event | {"type": event_type})

    for order, (currency, minor) in orders.items():
        types = [e["type"] for e in by_order[order]]
        expected = ["payment.authorized", "payment.successful"]
        assert types == ([*expected, "payment.refunded"] if order == refunded_order else expected)
        for event in by_order[order][:2]:
            assert event["amount"] == amounts[(currency, minor)]
            assert event["currency"] == currency
            assert event["amountMinor"] == minor
            assert event["paymentMethod"] == "CREDIT_CARD"
    refunded = by_order[refunded_order][2]
    assert refunded["refundId"] == refund.refund.refund_id
    assert refunded["amount"] == Decimal("0.99")
    # The value is the exact decimal text with the currency's ISO 4217 decimals.
    raw = {(e.get("currency"), e.get("amountMinor")): x.value or b"" for x, e in raw_events(mine())}
    assert b'"amount":10.99,' in raw[("EUR", 1099)]
    assert b'"amount":1.234,' in raw[("IQD", 1234)]
    assert b'"amount":1500.00,' in raw[("HUF", 150000)]
    assert b'"amount":500,' in raw[("JPY", 500)]


def raw_events(
    records: list[ConsumerRecord[bytes, bytes]],
) -> list[tuple[ConsumerRecord[bytes, bytes], dict[str, Any]]]:
    return [(x, json.loads(x.value or b"", parse_float=Decimal)) for x in records]


async def test_events_written_while_the_broker_is_down_are_published_after_it_returns(
    events_database_url: str, events_engine: AsyncEngine, broker: TansuBroker
) -> None:
    async with running_app(events_database_url, broker) as (app, stub):
        broker.stop()
        gate = asyncio.Semaphore(16)

        async def create() -> str:
            async with gate:
                response = await stub.CreatePayment(create_request(authorize=True))
                return str(response.payment.payment_id)

        ids = await asyncio.gather(*(create() for _ in range(200)))

        async def rows() -> list[Any]:
            async with events_engine.connect() as conn:
                query = select(outbox.c.id, outbox.c.published_at).where(
                    outbox.c.aggregate_id.in_(ids)
                )
                return list((await conn.execute(query)).all())

        assert len(await rows()) == 200
        assert all(row.published_at is None for row in await rows())

        await broker.start(topics=(TOPIC,))
        async with topic_reader(broker) as reader:

            async def drained() -> bool:
                await reader.poll()
                return all(row.published_at is not None for row in await rows())

            await eventually(drained, within=25)
            event_ids = {str(row.id) for row in await rows()}

            async def all_on_topic() -> bool:
                await reader.poll()
                return event_ids <= set(reader.event_ids())

            await eventually(all_on_topic, within=10)
        assert app.metrics.outbox_published._value.get() >= 200
    mine = [e for e in reader.events() if e["eventId"] in event_ids]
    assert {e["paymentId"] for e in mine} == set(ids)
    assert all(e["eventId"] in event_ids for e in mine)


async def test_two_relays_over_one_database_publish_each_row_once(
    events_database_url: str, events_engine: AsyncEngine, broker: TansuBroker
) -> None:
    start = datetime.now(UTC)
    keys = [new_id() for _ in range(20)]
    events: list[DomainEvent] = [
        PaymentCancelled(
            str(uuid.uuid4()), str(uuid.uuid4()), keys[i % 20], start + timedelta(microseconds=i),
            f"step {i // 20}",
        )
        for i in range(200)
    ]  # fmt: skip
    async with events_engine.begin() as conn:
        await commit_writes.write(conn, CommitWrites(events=events, render=RENDER))
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap, kafka_enable_idempotence=False, outbox_batch_size=15
    )
    relays = [build_outbox_relay(settings, events_engine, ServiceMetrics()) for _ in range(2)]
    ids = {e.event_id for e in events}

    async def unpublished() -> int:
        async with events_engine.connect() as conn:
            query = select(outbox.c.id).where(outbox.c.id.in_(ids), outbox.c.published_at.is_(None))
            return len((await conn.execute(query)).all())

    async def drain(relay: Any) -> int:
        total = 0
        while await unpublished():
            total += await relay.publish_once()
        return int(total)

    try:
        counts = await asyncio.gather(*(drain(relay) for relay in relays))
    finally:
        for relay in relays:
            await relay.stop()
    assert all(count > 0 for count in counts)  # both took part

    async with topic_reader(broker) as reader:

        async def all_on_topic() -> bool:
            await reader.poll()
            return ids <= set(reader.event_ids())

        await eventually(all_on_topic, within=10)
        await reader.poll()
    mine = [e for e in reader.events() if e["eventId"] in ids]
    assert len(mine) == len(ids)  # no row published twice
    for key in keys:  # one order's events in the order they happened
        reasons = [e["reason"] for e in mine if e["orderId"] == key]
        assert reasons == [f"step {n}" for n in range(10)]


async def test_rows_written_before_0016_are_published_like_new_ones_in_their_order(
    events_database_url: str, events_engine: AsyncEngine, broker: TansuBroker
) -> None:
    """An upgrade over unpublished rows: those with only the neutral payload are rendered by
    the relay into the very bytes and headers a new row stores, and one order's old and new
    rows go out in the order they happened."""
    settings = settings_for_tests(kafka_brokers=broker.bootstrap, kafka_enable_idempotence=False)
    render = event_renderer(settings)
    order = new_id()
    events = fresh_events(order)
    old, new = events[:4], events[4:]
    async with events_engine.begin() as conn:
        await conn.execute(
            insert(outbox),
            [
                {"id": e.event_id, "event_type": e.event_type, "aggregate_id": e.payment_id,
                 "message_key": e.order_id, "payload": legacy_payload(e),
                 "created_at": e.occurred_at}
                for e in old
            ],
        )  # fmt: skip
        await commit_writes.write(conn, CommitWrites(events=new, render=render))
    relay = build_outbox_relay(settings, events_engine, ServiceMetrics())
    ids = {e.event_id for e in events}

    async def unpublished() -> int:
        async with events_engine.connect() as conn:
            query = select(outbox.c.id).where(outbox.c.id.in_(ids), outbox.c.published_at.is_(None))
            return len((await conn.execute(query)).all())

    try:
        while await unpublished():
            await relay.publish_once()
    finally:
        await relay.stop()

    async with topic_reader(broker) as reader:

        def mine() -> list[ConsumerRecord[bytes, bytes]]:
            return [x for x in reader.records if x.key == order.encode()]

        async def all_on_topic() -> bool:
            await reader.poll()
            return len(mine()) >= len(events)

        await eventually(all_on_topic, within=10)
    assert [(x.value, list(x.headers)) for x in mine()] == [
        (render(e).value, render(e).kafka_headers()) for e in events
    ]
