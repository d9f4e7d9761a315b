"""The Python order example (examples/python/order_events.py) runs against a real server and
a real Kafka-protocol broker: it publishes the specification's order.confirmed and reads the
payment event that follows."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from server.app import PaymentApplication
from tests.support.auth import admin_token
from tests.support.kafka_broker import TansuBroker
from tests.support.servers import settings_for_tests

ROOT = Path(__file__).resolve().parents[2]
TOPICS = (
    "order.events",
    "order.events.dlq",
    "order.confirmed",
    "order.cancelled",
    "payment.events",
)


@pytest.fixture
async def kafka_app(database_url: str) -> AsyncIterator[tuple[PaymentApplication, TansuBroker]]:
    broker = TansuBroker()
    await broker.start(topics=TOPICS)
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        kafka_group_id=f"payments-{uuid.uuid4()}",
        outbox_poll_interval_seconds=0.05,
    )
    app = PaymentApplication(
        settings, database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    try:
        yield app, broker
    finally:
        await app.stop(grace=1)
        broker.stop()


async def test_the_python_order_events_example(
    kafka_app: tuple[PaymentApplication, TansuBroker],
) -> None:
    app, broker = kafka_app
    env = os.environ | {
        "PAYMENTS_GRPC_TARGET": f"127.0.0.1:{app.grpc_port}",
        "PAYMENTS_TOKEN": admin_token(),
        "PAYMENTS_KAFKA_BROKERS": broker.bootstrap,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "python" / "order_events.py"),
        "--total", "12.34", "--wait", "60",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    lines = dict(line.split("=", 1) for line in out.decode().splitlines())
    # Authorized: the service captures at once only with AUTO_CAPTURE=true.
    assert lines["event"] == "payment.authorized amount=12.34 EUR"
    uuid.UUID(lines["payment_id"])
