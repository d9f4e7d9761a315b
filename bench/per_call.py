"""Server CPU per call, one RPC at a time: `make bench-calls` (python -m bench.per_call).

`make bench` measures a lifecycle under load; this says where its CPU goes. It starts the
same server as `make bench` (one worker) and, for each kind of call, makes `--calls` of
them one after another from this process, reading the server's CPU time from /proc before
and after. Calls are sequential, so the figure is the work of one call, not contention.
Authorize and capture each need a payment in the right state: those are made beforehand,
outside the measured window.

Run the server under a profiler with `--pause`: the command prints the server's pid and
waits for Enter before each kind of call (e.g. `py-spy record --pid PID` meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import procfs
from bench.server import Server, spawned_server
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub

TIMEOUT_S = 10.0


def create_request() -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        amount_minor=1099,
        currency="EUR",
        payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
        payment_method_token="pm_card_visa",
    )


class Calls:
    """One stub per service on one channel, every call with the admin token."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self.payments = PaymentServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    async def create(self, authorize: bool = False) -> str:
        request = create_request()
        request.authorize = authorize
        created = await self.payments.CreatePayment(
            request, metadata=self.metadata, timeout=TIMEOUT_S
        )
        return str(created.payment.payment_id)

    def kinds(self, payments: list[str], authorized: list[str]) -> dict[str, Callable[[int], Any]]:
        """Each kind of call by name: a function of the call's index."""
        stub, md = self.payments, self.metadata

        def authorize(i: int) -> Awaitable[Any]:
            request = pb.AuthorizePaymentRequest(payment_id=payments[i], request_id=new_id())
            return stub.AuthorizePayment(request, metadata=md, timeout=TIMEOUT_S)

        def capture(i: int) -> Awaitable[Any]:
            request = pb.CapturePaymentRequest(payment_id=authorized[i], request_id=new_id())
            return stub.CapturePayment(request, metadata=md, timeout=TIMEOUT_S)

        def get(i: int) -> Awaitable[Any]:
            request = pb.GetPaymentRequest(payment_id=authorized[i])
            return stub.GetPayment(request, metadata=md, timeout=TIMEOUT_S)

        def health(_: int) -> Awaitable[Any]:
            request = health_pb2.HealthCheckRequest()
            return self.health.Check(request, metadata=md, timeout=TIMEOUT_S)

        return {
            "Health/Check": health,
            "CreatePayment": lambda _: self.create(),
            "AuthorizePayment": authorize,
            "CapturePayment": capture,
            "GetPayment": get,
        }


def new_id() -> str:
    return str(uuid.uuid4())


async def measure(
    server: Server, calls: int, warmup: int, pause: bool, only: list[str] | None
) -> dict[str, float]:
    """CPU-ms of the server per call, by kind."""
    async with grpc.aio.insecure_channel(server.target) as channel:
        client = Calls(channel, server.token)
        needed = warmup + calls
        payments = [await client.create() for _ in range(needed)]
        authorized = [await client.create(authorize=True) for _ in range(2 * needed)]
        kinds = client.kinds(payments, authorized)
        results: dict[str, float] = {}
        for name, call in kinds.items():
            if only and name not in only:
                continue
            for i in range(warmup):
                await call(i)
            if pause:
                await asyncio.to_thread(input, f"{name}: Enter to start (server pid {server.pid})")
            pids = procfs.descendants(procfs.snapshot(), server.pid)
            before = procfs.snapshot()
            for i in range(warmup, warmup + calls):
                await call(i)
            after = procfs.snapshot()
            results[name] = procfs.cpu_ms(before, after, pids) / calls
        return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.per_call", description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="measured calls per kind (300)")
    parser.add_argument("--warmup", type=int, default=50, help="calls before measuring (50)")
    parser.add_argument("--pause", action="store_true", help="wait for Enter before each kind")
    parser.add_argument("--only", action="append", help="this kind of call only (repeatable)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-calls-") as directory,
        spawned_server(Path(directory), workers=1) as server,
    ):
        results = asyncio.run(measure(server, args.calls, args.warmup, args.pause, args.only))
    print(f"{'call':<18} {'server CPU-ms per call':>24}")
    for name, cpu in results.items():
        print(f"{name:<18} {cpu:>24.2f}")
    lifecycle = ("CreatePayment", "AuthorizePayment", "CapturePayment")
    if all(k in results for k in lifecycle):
        print(f"{'lifecycle (c+a+c)':<18} {sum(results[k] for k in lifecycle):>24.2f}")


if __name__ == "__main__":
    main()
