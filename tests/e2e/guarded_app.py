"""A server of a test's own, with fraud checks and rate limits configured by the test, its
own simulator (so its calls can be counted) and its own Redis key prefix (so its counters
and buckets start empty)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from sqlalchemy import select

from domain.enums import GatewayName
from infra.db.tables import outbox
from infra.gateways.simulator import SimulatorGateway
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.support.channels import open_channel
from tests.support.servers import settings_for_tests


@dataclass
class Guarded:
    app: PaymentApplication
    simulator: SimulatorGateway
    channel: grpc.aio.Channel
    stub: PaymentServiceStub

    def gateway_calls(self) -> int:
        """Operations the gateway answered (one per idempotency key)."""
        return len(self.simulator.answers)

    async def events(self, payment_id: str) -> list[tuple[str, str]]:
        """The payment's events in the outbox, in order: (type, JSON as it will be published)."""
        assert self.app.engine is not None
        query = (
            select(outbox.c.event_type, outbox.c.value)
            .where(outbox.c.aggregate_id == payment_id)
            .order_by(outbox.c.created_at)
        )
        async with self.app.engine.connect() as conn:
            return [(row.event_type, row.value.decode()) for row in await conn.execute(query)]


@contextlib.asynccontextmanager
async def guarded_app(
    database_url: str, redis_url: str, redis_key_prefix: str, **settings: Any
) -> AsyncIterator[Guarded]:
    simulator = SimulatorGateway()
    prefix = f"{redis_key_prefix}{uuid.uuid4().hex[:8]}:"
    app = PaymentApplication(
        settings_for_tests(redis_key_prefix=prefix, **settings),
        database_url,
        gateways={GatewayName.SIMULATOR: simulator},
        redis_url=redis_url,
    )
    await app.start()
    try:
        async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            yield Guarded(app, simulator, channel, PaymentServiceStub(channel))
    finally:
        await app.stop(grace=1)
