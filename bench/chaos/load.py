"""The chaos suite's steady load: a few concurrent clients, each running payments through
create -> authorize -> capture (full or partial) -> refund (sometimes) or cancel, spread over
both service processes. Every call is counted under the fault phase it started in, so the
error rate of each fault can be printed."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from payments.v1 import payment_pb2, payment_service_pb2, payment_service_pb2_grpc
from payments_client.errors import PaymentsError

TIMEOUT_S = 8.0  # above GATEWAY_TIMEOUT_SECONDS: a gateway timeout comes back as an answer
PAUSE_AFTER_FAILURE_S = 0.2  # a refused client does not spin on a dead process


@dataclass
class PhaseCounts:
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lifecycles: int = 0  # payments that reached their last planned step
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class Phases:
    """The current phase and what happened in each."""

    def __init__(self) -> None:
        self.current = "warm-up"
        self.counts: dict[str, PhaseCounts] = {self.current: PhaseCounts()}

    def enter(self, name: str) -> None:
        self.counts[self.current].ended = time.monotonic()
        self.current = name
        self.counts[name] = PhaseCounts()

    def finish(self) -> None:
        self.counts[self.current].ended = time.monotonic()


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(details._replace(metadata=self._metadata), request)


class PaymentClient:
    def __init__(self, channel: grpc.aio.Channel, phases: Phases, rng: random.Random) -> None:
        self.stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        self.phases, self.rng = phases, rng

    async def call(self, name: str, method: Callable[..., Awaitable[Any]], request: Any) -> Any:
        counts = self.phases.counts[self.phases.current]
        counts.calls += 1
        try:
            return await method(request, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            # The stable reason (ErrorInfo) says which fault a status code stands for.
            # Without one (the transport's own errors), its details.
            reason = PaymentsError.from_rpc_error(error).reason or f"'{error.details()[:50]}'"
            counts.errors[f"{name} {error.code().name}/{reason}"] += 1
            return None

    async def lifecycle(self) -> bool:
        pb, stub, rng = payment_service_pb2, self.stub, self.rng
        amount = rng.randrange(500, 20_000)
        created = await self.call("CreatePayment", stub.CreatePayment, pb.CreatePaymentRequest(
            request_id=str(uuid.uuid4()), order_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()),
            amount_minor=amount, currency="EUR",
            payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
            payment_method_token="pm_card_visa",
        ))  # fmt: skip
        if created is None:
            return False
        pid = created.payment.payment_id
        authorize = pb.AuthorizePaymentRequest(payment_id=pid, request_id=str(uuid.uuid4()))
        if await self.call("AuthorizePayment", stub.AuthorizePayment, authorize) is None:
            return False
        if rng.random() < 0.15:
            cancel = pb.CancelPaymentRequest(payment_id=pid, request_id=str(uuid.uuid4()))
            return await self.call("CancelPayment", stub.CancelPayment, cancel) is not None
        captured = amount if rng.random() < 0.6 else rng.randrange(100, amount)
        capture = pb.CapturePaymentRequest(
            payment_id=pid, request_id=str(uuid.uuid4()), amount_minor=captured
        )
        if await self.call("CapturePayment", stub.CapturePayment, capture) is None:
            return False
        if rng.random() < 0.5:
            refund = pb.RefundPaymentRequest(
                payment_id=pid, request_id=str(uuid.uuid4()),
                amount_minor=rng.randrange(1, captured + 1), reason="chaos",
            )  # fmt: skip
            return await self.call("RefundPayment", stub.RefundPayment, refund) is not None
        return True


class Load:
    """`clients` loops over the given targets until stopped."""

    def __init__(self, targets: list[str], token: str, clients: int, seed: int = 1) -> None:
        self.phases = Phases()
        self._channels = [
            grpc.aio.insecure_channel(t, interceptors=[_Bearer(token)]) for t in targets
        ]
        self._clients = clients
        self._rng = random.Random(seed)
        self._running = asyncio.Event()
        self._stopped = False
        self._tasks: list[asyncio.Task[None]] = []
        self.in_flight = 0
        self._idle = asyncio.Event()

    def start(self) -> None:
        self._running.set()
        for i in range(self._clients):
            client = PaymentClient(self._channels[i % len(self._channels)], self.phases, self._rng)
            self._tasks.append(asyncio.create_task(self._loop(client)))

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def quiesce(self, within: float = 30.0) -> None:
        """Paused, and every payment in flight at its end."""
        self.pause()
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), within)

    async def _loop(self, client: PaymentClient) -> None:
        while not self._stopped:
            await self._running.wait()
            self.in_flight += 1
            self._idle.clear()
            try:
                done = await client.lifecycle()
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()
            if done:
                self.phases.counts[self.phases.current].lifecycles += 1
            else:
                await asyncio.sleep(PAUSE_AFTER_FAILURE_S)

    async def stop(self) -> None:
        self._stopped = True
        self._running.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.phases.finish()
        for channel in self._channels:
            await channel.close()
