"""The on-call metrics as Prometheus scrapes them from a running server's ops port: the
request pool, circuit breakers, open operations, retries, process metrics and latency
buckets up to 30 s; and, with Kafka, dead-lettered order events and the consumer's lag."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.support import databases
from tests.support.channels import open_channel
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

ORDERS, DLQ = "order.events", "order.events.dlq"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(app: PaymentApplication) -> Samples:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{app.ops_port}/metrics", timeout=10)
    answer.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_the_ops_port_exports_what_on_call_needs(app: PaymentApplication) -> None:
    async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:  # one timed call
        with pytest.raises(grpc.aio.AioRpcError):  # no token: UNAUTHENTICATED, timed all the same
            await PaymentServiceStub(channel).GetPayment(pb.GetPaymentRequest(payment_id="x"))
    samples = await scrape(app)
    assert sample(samples, "payments_db_pool_capacity") == 2 * app.settings.db_pool_size
    assert sample(samples, "payments_db_pool_in_use") is not None
    assert sample(samples, "payments_db_pool_waiting") == 0
    assert sample(samples, "payments_circuit_open", gateway="SIMULATOR") == 0
    for status in ("PENDING", "UNKNOWN"):
        assert sample(samples, "payments_open_operations", status=status) is not None
    assert sample(samples, "payments_open_operation_age_seconds") is not None
    assert sample(samples, "payments_retries_scheduled") is not None
    assert sample(samples, "payments_retries_overdue_seconds") is not None
    assert (sample(samples, "process_resident_memory_bytes") or 0) > 0
    assert sample(samples, "process_cpu_seconds_total") is not None
    buckets = {dict(labels).get("le") for name, labels in samples if name.endswith("_bucket")}
    assert {"20.0", "30.0", "+Inf"} <= buckets


@pytest.fixture(scope="module")
def oncall_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_oncall") as url:
        yield url


@pytest.fixture
async def kafka_app(oncall_database_url: str) -> AsyncIterator[tuple[PaymentApplication, str]]:
    broker = TansuBroker()
    await broker.start(topics=(ORDERS, DLQ))
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        kafka_group_id=f"payments-{uuid.uuid4()}",
        metrics_refresh_seconds=0,  # every scrape reads afresh: the test polls
    )
    app = PaymentApplication(
        settings, oncall_database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    try:
        yield app, broker.bootstrap
    finally:
        await app.stop(grace=1)
        broker.stop()


async def test_dead_letters_are_counted_and_the_lag_drains(
    kafka_app: tuple[PaymentApplication, str],
) -> None:
    app, bootstrap = kafka_app
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(ORDERS, b"{not json", key=b"poison")
    finally:
        await producer.stop()

    async def both_dead_lettered() -> bool:
        samples = await scrape(app)
        counted = sample(samples, "payments_order_events_dead_lettered_total", topic=ORDERS)
        return counted == 2

    await eventually(both_dead_lettered, within=30, interval=0.2)
    samples = await scrape(app)
    # Consumed up to the end: nothing left on the topic for this group.
    assert sample(samples, "payments_order_events_consumer_lag", topic=ORDERS) == 0
