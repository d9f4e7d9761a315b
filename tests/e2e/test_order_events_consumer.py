"""The order events consumer on a real Kafka-compatible broker (Tansu): order.confirmed pays
the order with the user's default saved method, redeliveries make no second payment, poison
goes to order.events.dlq and consumption goes on.

Own database, like test_kafka_events: no other server relays these rows elsewhere."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from sqlalchemy import func, select

from domain.enums import GatewayName
from infra.db.engine import make_engine
from infra.db.tables import payments
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import new_id
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.event_shapes import has_spec_shape
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.tcp_proxy import TcpProxy

ORDERS, DLQ, PAYMENTS = "order.events", "order.events.dlq", "payment.events"


@pytest.fixture(scope="module")
def orders_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_orders") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(ORDERS, DLQ, PAYMENTS))
    yield server
    server.stop()


@asynccontextmanager
async def running_app(
    database_url: str, broker: TansuBroker, **overrides: Any
) -> AsyncIterator[grpc.aio.Channel]:
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        kafka_group_id=f"payments-{uuid.uuid4()}",
        outbox_poll_interval_seconds=0.05,
        **overrides,
    )
    app = PaymentApplication(
        settings, database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    try:
        async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            yield channel
    finally:
        await app.stop(grace=1)


class Reader:
    def __init__(self, broker: TansuBroker, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def poll(self) -> None:
        for records in (await self.consumer.getmany(timeout_ms=100)).values():
            self.records.extend(records)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.value or b"", parse_float=Decimal) for r in self.records]


@asynccontextmanager
async def reader(broker: TansuBroker, topic: str) -> AsyncIterator[Reader]:
    r = Reader(broker, topic)
    await r.consumer.start()
    try:
        yield r
    finally:
        await r.consumer.stop()


@asynccontextmanager
async def producer(broker: TansuBroker) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def user_with_default_card(channel: grpc.aio.Channel) -> str:
    user = new_id()
    await PaymentMethodServiceStub(channel).AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=user,
            type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
            payment_method_token="pm_card_visa",
            request_id=new_id(),
            set_default=True,
        )
    )
    return user


def order_cancelled(order: str) -> bytes:
    return json.dumps(
        {
            "eventId": new_id(),
            "orderId": order,
            "type": "order.cancelled",
            "timestamp": "2026-01-02T03:04:06Z",
        }
    ).encode()


def types_for(published: Reader, order: str) -> list[str]:
    """ce_type of every payment event of the order, in the order they were published."""
    return [
        dict(r.headers)["ce_type"].decode()
        for e, r in zip(published.events(), published.records, strict=True)
        if e.get("orderId") == order
    ]


async def wait_for_types(published: Reader, order: str, expected: list[str]) -> None:
    async def arrived() -> bool:
        await published.poll()
        return len(types_for(published, order)) >= len(expected)

    await eventually(arrived, within=20)
    assert types_for(published, order) == expected


def order_confirmed(user: str, order: str, total: str = "10.99") -> tuple[str, bytes]:
    event_id = new_id()
    value = (
        f'{{"eventId":"{event_id}","orderId":"{order}","userId":"{user}","total":{total},'
        f'"currency":"EUR","timestamp":"2026-01-02T03:04:05Z","type":"order.confirmed"}}'
    )
    return event_id, value.encode()


async def payments_of(database_url: str, order: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(payments).where(payments.c.order_id == order)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def test_order_confirmed_authorizes_once_despite_redeliveries(
    orders_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(orders_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        _, value = order_confirmed(user, order)
        for _ in range(3):  # the same event, delivered three times
            await orders.send_and_wait(ORDERS, value, key=order.encode())

        async def authorized() -> bool:
            await published.poll()
            return any(
                e.get("orderId") == order
                and r.headers
                and (b"payment.authorized" in dict(r.headers).values())
                for e, r in zip(published.events(), published.records, strict=True)
            )

        await eventually(authorized, within=20)
        [event] = [e for e in published.events() if e.get("orderId") == order]
        assert event["amount"] == Decimal("10.99") and event["currency"] == "EUR"
        # Give the redeliveries time to be processed: still one payment, one event.
        second_order = new_id()
        await orders.send_and_wait(
            ORDERS, order_confirmed(user, second_order)[1], key=second_order.encode()
        )

        async def second_done() -> bool:
            await published.poll()
            return any(e.get("orderId") == second_order for e in published.events())

        await eventually(second_done, within=20)
        assert await payments_of(orders_database_url, order) == 1
        assert len([e for e in published.events() if e.get("orderId") == order]) == 1


async def test_poison_goes_to_the_dead_letter_topic_and_consumption_goes_on(
    orders_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(orders_database_url, broker) as channel,
        reader(broker, DLQ) as dead,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        key = order.encode()  # same key: same partition, after the poison
        await orders.send_and_wait(ORDERS, b"{not json", key=key)
        _, too_precise = order_confirmed(user, new_id(), total="10.999")
        await orders.send_and_wait(ORDERS, too_precise, key=key)
        with_nul = json.loads(order_confirmed(user, new_id())[1])
        with_nul["eventId"] = "evt\x00"  # PostgreSQL cannot store it: refused, not retried
        await orders.send_and_wait(ORDERS, json.dumps(with_nul).encode(), key=key)
        await orders.send_and_wait(ORDERS, order_confirmed(user, order)[1], key=key)

        async def paid() -> bool:
            await published.poll()
            return any(e.get("orderId") == order for e in published.events())

        await eventually(paid, within=20)

        async def dead_lettered() -> bool:
            await dead.poll()
            return len(dead.records) >= 3

        await eventually(dead_lettered, within=10)
        errors = [dict(r.headers)["error"].decode() for r in dead.records]
        assert dead.records[0].value == b"{not json"
        assert "not JSON" in errors[0]
        assert "decimals" in errors[1]
        assert "eventId must not contain NUL" in errors[2]


async def test_auto_capture_pays_and_a_cancellation_refunds(
    orders_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(orders_database_url, broker, auto_capture=True) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        await orders.send_and_wait(ORDERS, order_confirmed(user, order)[1], key=order.encode())
        await wait_for_types(published, order, ["payment.authorized", "payment.successful"])
        authorized, successful = [e for e in published.events() if e.get("orderId") == order]
        assert has_spec_shape("payment.authorized", authorized)
        assert has_spec_shape("payment.successful", successful)
        assert successful["amount"] == Decimal("10.99") and successful["currency"] == "EUR"
        await orders.send_and_wait(ORDERS, order_cancelled(order), key=order.encode())
        await wait_for_types(
            published, order, ["payment.authorized", "payment.successful", "payment.refunded"]
        )
        [refunded] = [
            e for e in published.events() if e.get("orderId") == order and "refundId" in e
        ]
        assert has_spec_shape("payment.refunded", refunded)
        assert refunded["amount"] == Decimal("10.99") and refunded["currency"] == "EUR"


async def test_a_cancellation_voids_an_authorized_payment(
    orders_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(orders_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        await orders.send_and_wait(ORDERS, order_confirmed(user, order)[1], key=order.encode())
        await wait_for_types(published, order, ["payment.authorized"])
        await orders.send_and_wait(ORDERS, order_cancelled(order), key=order.encode())
        await wait_for_types(published, order, ["payment.authorized", "payment.cancelled"])


async def test_a_cancellation_delivered_before_its_confirmation_takes_no_money(
    orders_database_url: str, broker: TansuBroker
) -> None:
    async with (
        running_app(orders_database_url, broker) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order, later = await user_with_default_card(channel), new_id(), new_id()
        key = order.encode()  # one partition: the consumer sees them in this order
        await orders.send_and_wait(ORDERS, order_cancelled(order), key=key)
        _, confirmed = order_confirmed(user, order)
        for _ in range(2):
            await orders.send_and_wait(ORDERS, confirmed, key=key)
        # A later order on the same partition: once it is paid, the ones before it are done.
        await orders.send_and_wait(ORDERS, order_confirmed(user, later)[1], key=key)
        await wait_for_types(published, later, ["payment.authorized"])
        assert await payments_of(orders_database_url, order) == 0
        assert types_for(published, order) == []


async def test_the_consumer_waits_out_a_database_outage_without_skipping(
    orders_database_url: str, broker: TansuBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The database goes away while an order.confirmed waits: the consumer retries the same
    offset (it neither skips nor dead-letters it) and pays the order once it is back."""
    parsed = urlparse(orders_database_url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    proxied_url = orders_database_url.replace(f":{parsed.port}/", f":{proxy.port}/")
    caplog.set_level(logging.WARNING, logger="payments")
    try:
        async with (
            running_app(proxied_url, broker) as channel,
            reader(broker, PAYMENTS) as published,
            reader(broker, DLQ) as dead,
            producer(broker) as orders,
        ):
            user, order = await user_with_default_card(channel), new_id()
            await proxy.cut()
            await orders.send_and_wait(ORDERS, order_confirmed(user, order)[1], key=order.encode())

            async def retrying() -> bool:
                return any("will retry" in r.getMessage() for r in caplog.records)

            await eventually(retrying, within=20)
            await proxy.restore()
            await wait_for_types(published, order, ["payment.authorized"])
            assert await payments_of(orders_database_url, order) == 1
            await dead.poll()
            assert dead.records == []
    finally:
        await proxy.cut()


async def test_an_order_the_fraud_checks_block_is_failed_not_retried(
    orders_database_url: str, broker: TansuBroker
) -> None:
    """order.confirmed over the block limit: payment.failed FRAUD_SUSPECTED (the payment FAILED),
    and the consumer goes on to the next order (a decline of ours is final, not transient)."""
    async with (
        running_app(orders_database_url, broker, fraud_block_amount_limits="EUR:1000") as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, blocked, small = await user_with_default_card(channel), new_id(), new_id()
        key = blocked.encode()  # one partition: the small order comes after the blocked one
        await orders.send_and_wait(ORDERS, order_confirmed(user, blocked, "25.00")[1], key=key)
        await orders.send_and_wait(ORDERS, order_confirmed(user, small, "9.99")[1], key=key)
        await wait_for_types(published, small, ["payment.authorized"])
        assert types_for(published, blocked) == ["payment.failed"]
        [failed] = [e for e in published.events() if e.get("orderId") == blocked]
        assert failed["failureCode"] == "FRAUD_SUSPECTED"
        assert await payments_of(orders_database_url, blocked) == 1


async def test_auto_capture_follows_a_fraud_review_approval(
    orders_database_url: str, broker: TansuBroker
) -> None:
    """AUTO_CAPTURE and an order held for review: nothing is charged until an administrator
    approves it, and then it is authorized and captured, like any other order."""
    async with (
        running_app(
            orders_database_url, broker, auto_capture=True, fraud_review_amount_limits="EUR:1000"
        ) as channel,
        reader(broker, PAYMENTS) as published,
        producer(broker) as orders,
    ):
        user, order = await user_with_default_card(channel), new_id()
        await orders.send_and_wait(
            ORDERS, order_confirmed(user, order, "25.00")[1], key=order.encode()
        )
        await wait_for_types(published, order, ["payment.requires_review"])
        [held] = [e for e in published.events() if e.get("orderId") == order]
        approved = await PaymentServiceStub(channel).ReviewPayment(
            pb.ReviewPaymentRequest(
                payment_id=held["paymentId"],
                request_id=new_id(),
                decision=payment_pb2.REVIEW_DECISION_APPROVE,
                reason="known customer",
            )
        )
        assert approved.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
        await wait_for_types(
            published,
            order,
            ["payment.requires_review", "payment.authorized", "payment.successful"],
        )
