"""A load-generating client process: several gRPC channels (each its own TCP connection, so
that SO_REUSEPORT spreads them over the server's workers) and concurrent client loops.

The orchestrator sends an `Order` per phase over a pipe and receives a `Sample`; `None` ends
the process. All processes share one clock (CLOCK_MONOTONIC), so a phase's window is the same
instant everywhere: the loops run from `start` until `measure_until` without pause, and only
what completes in [measure_from, measure_until] is measured (steady state, no ramp up or
drain in the figures).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.stats import Sample
from payments.v1 import payment_pb2, payment_service_pb2, payment_service_pb2_grpc

Kind = Literal["lifecycle", "health"]
LIFECYCLE: Kind = "lifecycle"  # also the name of a whole lifecycle's latency
HEALTH = "Health/Check"
PAYMENT_RPCS = ("CreatePayment", "AuthorizePayment", "CapturePayment")
TIMEOUT_S = 10.0  # per RPC: a stuck call shows up as DEADLINE_EXCEEDED
# Without it, channels to the same target with the same options share one connection.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Order:
    kind: Kind
    clients: int  # concurrent loops in this process
    start: float  # time.monotonic() when the loops begin (warm-up)
    measure_from: float
    measure_until: float  # no new iteration starts after this


class Client:
    """One loop's calls on one channel, timed into a shared Sample."""

    def __init__(self, channel: grpc.aio.Channel, order: Order, sample: Sample) -> None:
        self.payments = payment_service_pb2_grpc.PaymentServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)
        self.order, self.sample = order, sample

    def measured(self, finished: float) -> bool:
        return self.order.measure_from <= finished <= self.order.measure_until

    async def call(self, name: str, method: Callable[..., Awaitable[Any]], request: Any) -> Any:
        """The response, or None when the call failed (counted by status code)."""
        started = time.monotonic()
        try:
            response = await method(request, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            self.sample.errors[f"{name} {error.code().name}"] += 1
            return None
        finished = time.monotonic()
        if self.measured(finished):
            self.sample.record(name, finished - started)
        return response

    async def health_check(self) -> None:
        await self.call(HEALTH, self.health.Check, health_pb2.HealthCheckRequest())

    async def lifecycle(self) -> None:
        """create -> authorize -> capture of a new payment, each call its own request_id."""
        started = time.monotonic()
        ok = await self._lifecycle()
        finished = time.monotonic()
        if not self.measured(finished):
            return
        if ok:
            self.sample.record(LIFECYCLE, finished - started)
        else:
            self.sample.failed_lifecycles += 1

    async def _lifecycle(self) -> bool:
        pb, stub = payment_service_pb2, self.payments
        create = pb.CreatePaymentRequest(
            request_id=str(uuid.uuid4()),
            order_id=str(uuid.uuid4()),
            user_id=str(uuid.uuid4()),
            amount_minor=1099,
            currency="EUR",
            payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
            payment_method_token="pm_card_visa",
        )
        created = await self.call("CreatePayment", stub.CreatePayment, create)
        if created is None:
            return False
        payment_id = created.payment.payment_id
        authorize = pb.AuthorizePaymentRequest(payment_id=payment_id, request_id=str(uuid.uuid4()))
        if await self.call("AuthorizePayment", stub.AuthorizePayment, authorize) is None:
            return False
        capture = pb.CapturePaymentRequest(payment_id=payment_id, request_id=str(uuid.uuid4()))
        return await self.call("CapturePayment", stub.CapturePayment, capture) is not None


async def run_order(order: Order, channels: list[grpc.aio.Channel]) -> Sample:
    sample = Sample()

    async def loop(client: Client) -> None:
        step = client.lifecycle if order.kind == LIFECYCLE else client.health_check
        while time.monotonic() < order.measure_until:
            await step()

    await asyncio.sleep(max(0.0, order.start - time.monotonic()))
    clients = [Client(channels[i % len(channels)], order, sample) for i in range(order.clients)]
    await asyncio.gather(*(loop(client) for client in clients))
    return sample


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(details._replace(metadata=self._metadata), request)


async def serve_orders(pipe: Connection, target: str, token: str, channels: int) -> None:
    opened = [
        grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS, interceptors=[_Bearer(token)])
        for _ in range(channels)
    ]
    try:
        while (order := await asyncio.to_thread(pipe.recv)) is not None:
            pipe.send(await run_order(order, opened))
    finally:
        for channel in opened:
            await channel.close()


def client_process(pipe: Connection, target: str, token: str, channels: int) -> None:
    """Entry point of a client process (multiprocessing, spawn)."""
    asyncio.run(serve_orders(pipe, target, token, channels))
