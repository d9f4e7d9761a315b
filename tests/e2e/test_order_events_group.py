"""Two service processes in one consumer group share order.events; SIGKILL one of them and the
other takes over its partitions: every order is still paid, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine
from infra.db.tables import payments
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from tests.e2e.helpers import new_id
from tests.e2e.test_order_events_consumer import order_confirmed
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow
ORDERS, DLQ, PAYMENTS = "order.events", "order.events.dlq", "payment.events"


@pytest.fixture
def group_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_group") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(ORDERS, DLQ, PAYMENTS))  # three partitions each
    yield server
    server.stop()


@pytest.fixture
async def engine(group_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(group_database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def group_members(bootstrap: str, group: str = "payment-service") -> int:
    """Members of a consumer group once it is Stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    [described] = response.to_object()["groups"]
    return len(described["members"]) if described["state"] == "Stable" else 0


async def paid_orders(engine: AsyncEngine, orders: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(payments.c.order_id, func.count())
            .where(payments.c.order_id.in_(orders))
            .group_by(payments.c.order_id)
        )
        return {str(order): int(count) for order, count in rows}


async def test_the_survivor_takes_over_a_killed_members_partitions(
    group_database_url: str,
    broker: TansuBroker,
    engine: AsyncEngine,
    redis_url: str,
    redis_key_prefix: str,
) -> None:
    env = {
        "KAFKA_BROKERS": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_key_prefix,
    }
    members = [ServerProcess(group_database_url, **env) for _ in range(2)]
    try:
        for member in members:
            await member.start()

        async def members_in_group(count: int) -> bool:
            return await group_members(broker.bootstrap) == count

        await eventually(lambda: members_in_group(2), within=60)  # both own partitions
        user = new_id()
        async with open_channel(members[0].target) as channel:
            await PaymentMethodServiceStub(channel).AddPaymentMethod(
                mpb.AddPaymentMethodRequest(
                    user_id=user,
                    type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
                    payment_method_token="pm_card_visa",
                )
            )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False)
        await producer.start()
        try:

            async def publish(count: int) -> list[str]:
                orders = [new_id() for _ in range(count)]
                for order in orders:  # keyed by order: spread over the three partitions
                    _, value = order_confirmed(user, order)
                    await producer.send_and_wait(ORDERS, value, key=order.encode())
                return orders

            before = await publish(12)

            async def all_paid(orders: list[str]) -> bool:
                return len(await paid_orders(engine, orders)) == len(orders)

            await eventually(lambda: all_paid(before), within=60)
            members[1].kill()  # SIGKILL: no goodbye to the group
            after = await publish(12)
            # The group notices only when the dead member's session times out.
            await eventually(lambda: members_in_group(1), within=90)
            # The survivor gets the dead member's partitions once its session times out.
            await eventually(lambda: all_paid(after), within=90)
        finally:
            await producer.stop()
        counts = await paid_orders(engine, before + after)
        assert set(counts.values()) == {1}  # every order paid exactly once
        assert len(counts) == 24
    finally:
        for member in members:
            print(member.output()[-3000:])  # shown when the test failed
            member.close()
