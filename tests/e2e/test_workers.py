"""`payment-service serve --workers 2`: one supervisor, two worker processes on the same
ports. Calls reach both; the background lease moves to the other worker when its holder is
killed (and the outbox keeps flowing to Kafka); the killed worker is restarted; SIGTERM
drains every worker and the supervisor exits 0.

Which worker served a call is read from /metrics (payments_worker_grpc_calls, one value per
worker pid): a channel keeps its one connection, so the worker that counted its first call
serves all of its calls."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request
from tests.support import databases
from tests.support.channels import open_channel, rest_headers
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.server_process import PAYMENT_SERVICE, ServerProcess

pytestmark = pytest.mark.slow
TOPIC = "payment.events"
METRIC = re.compile(
    r'^(payments_worker_grpc_calls|payments_background_leader)\{pid="(\d+)"\} (\S+)$'
)


@pytest.fixture(scope="module")
def workers_database_url(admin_database_url: str) -> Iterator[str]:
    """Its own database: its relay publishes every unpublished row, none of other tests'."""
    with databases.migrated_database(admin_database_url, "payments_workers") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(TOPIC, "order.events"))
    yield server
    server.stop()


class Workers:
    """The supervisor process, its workers and what /metrics says about them."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.rest_port = 0
        self.ops_port = 0

    @property
    def supervisor(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    async def start(self) -> None:
        await self.server.start(within=60)

        async def banner() -> bool:
            return "  workers   2 processes" in self.server.output()

        await eventually(banner, within=60)
        found = re.search(r"REST +http://127\.0\.0\.1:(\d+)/", self.server.output())
        assert found is not None, self.server.output()[-3000:]
        self.rest_port = int(found.group(1))
        ops = re.search(r"ops +http://127\.0\.0\.1:(\d+)/livez", self.server.output())
        assert ops is not None, self.server.output()[-3000:]
        self.ops_port = int(ops.group(1))

    def pids(self) -> set[int]:
        return _children(self.supervisor)

    async def metrics(self, *, ops_port: bool = False) -> dict[str, dict[int, float]]:
        """From the public port (with a token), or the ops port (without)."""
        url = (
            f"http://127.0.0.1:{self.ops_port}/metrics"
            if ops_port
            else f"http://127.0.0.1:{self.rest_port}/metrics"
        )
        async with httpx.AsyncClient() as client:
            answer = await client.get(url, headers={} if ops_port else rest_headers(), timeout=5)
        answer.raise_for_status()
        values: dict[str, dict[int, float]] = {}
        for line in answer.text.splitlines():
            if match := METRIC.match(line):
                values.setdefault(match[1], {})[int(match[2])] = float(match[3])
        return values

    async def calls(self) -> dict[int, float]:
        return (await self.metrics()).get("payments_worker_grpc_calls", {})

    async def leader(self) -> int | None:
        leaders = (await self.metrics()).get("payments_background_leader", {})
        holding = [pid for pid, value in leaders.items() if value == 1]
        return holding[0] if len(holding) == 1 else None

    async def worker_of(self, stub: PaymentServiceStub) -> int:
        """Makes the channel's first call (nothing else calls meanwhile) and names the
        worker whose count went up."""
        before = await self.calls()
        await stub.CreatePayment(create_request())
        after = await self.calls()
        grown = [pid for pid, count in after.items() if count > before.get(pid, 0)]
        assert len(grown) == 1, (before, after)
        return grown[0]


def _children(parent: int) -> set[int]:
    """Live worker processes of `parent`, from /proc (not an embedded broker it started)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent and fields[0] != "Z" and b"server.worker" in command:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@asynccontextmanager
async def running(database_url: str, **env: str) -> AsyncIterator[Workers]:
    workers = Workers(ServerProcess(database_url, "--workers", "2", **env))
    try:
        await workers.start()
        yield workers
    finally:
        print(workers.server.output()[-8000:])  # shown when the test failed
        workers.server.close()


@asynccontextmanager
async def channel_per_worker(workers: Workers) -> AsyncIterator[dict[int, PaymentServiceStub]]:
    """Fresh channels (a new connection each, which the kernel hands to one worker) until
    every worker has one."""
    channels: list[grpc.aio.Channel] = []
    stubs: dict[int, PaymentServiceStub] = {}
    expected = workers.pids()
    try:

        async def one_more() -> bool:
            channel = open_channel(workers.server.target, own_connection=True)
            channels.append(channel)
            stub = PaymentServiceStub(channel)
            stubs.setdefault(await workers.worker_of(stub), stub)
            return set(stubs) == expected

        await eventually(one_more, within=60, interval=0)
        yield stubs
    finally:
        for channel in channels:
            await channel.close()


async def test_both_workers_serve_and_a_killed_lease_holder_is_replaced(
    workers_database_url: str, broker: TansuBroker, redis_url: str, redis_key_prefix: str
) -> None:
    async with running(
        workers_database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_key_prefix,
        KAFKA_BROKERS=broker.bootstrap,
        KAFKA_ENABLE_IDEMPOTENCE="false",  # Tansu has no InitProducerId
        OUTBOX_POLL_INTERVAL_SECONDS="0.05",
        BACKGROUND_LEASE_SECONDS="3",
    ) as workers:
        first = workers.pids()
        assert len(first) == 2
        async with channel_per_worker(workers) as stubs:
            assert set(stubs) == first  # each worker served a call of its own
        calls = await workers.calls()
        assert set(calls) == first and all(count >= 1 for count in calls.values())
        # The ops port, which every worker binds too: ready, and the same totals of both.
        for _ in range(4):  # a new connection each, spread over the workers by the kernel
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"http://127.0.0.1:{workers.ops_port}/readyz")
            assert ready.status_code == 200, ready.text
        ops_calls = (await workers.metrics(ops_port=True))["payments_worker_grpc_calls"]
        assert set(ops_calls) == first

        async def one_leader() -> bool:
            return await workers.leader() in first

        await eventually(one_leader, within=20)
        holder = await workers.leader()
        assert holder is not None
        os.kill(holder, signal.SIGKILL)

        async def taken_over() -> bool:
            try:
                leader = await workers.leader()
            except httpx.TransportError:
                return False  # a connection that reached the dying worker's queue: reset
            return leader is not None and leader != holder and leader in workers.pids()

        await eventually(taken_over, within=20)

        # An event written after the kill (payment.authorized) still reaches Kafka: the new
        # holder relays it.
        reader = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await reader.start()
        try:
            async with open_channel(workers.server.target, own_connection=True) as channel:
                stub = PaymentServiceStub(channel)
                created = await stub.CreatePayment(create_request(authorize=True))
            payment_id = created.payment.payment_id.encode()
            seen: list[bytes] = []

            async def published() -> bool:
                for records in (await reader.getmany(timeout_ms=100)).values():
                    seen.extend(r.value or b"" for r in records)
                return any(payment_id in value for value in seen)

            await eventually(published, within=30)
        finally:
            await reader.stop()

        # The supervisor restarted the killed worker; it serves again.
        async def restarted() -> bool:
            pids = workers.pids()
            ready = {f"restarted (pid {pid})" in workers.server.output() for pid in pids - first}
            return len(pids) == 2 and holder not in pids and ready == {True}

        await eventually(restarted, within=30)
        assert workers.server.process is not None and workers.server.process.poll() is None
        assert await workers.server.terminate() == 0


async def test_sigterm_drains_every_worker(
    workers_database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    """A capture in flight in each worker (its 1 s gateway call under way) when SIGTERM
    reaches the supervisor: both complete, every worker exits, the supervisor exits 0."""
    async with running(
        workers_database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_key_prefix,
        SIMULATOR_LATENCY_MS="1000",
    ) as workers:
        pids = workers.pids()
        async with channel_per_worker(workers) as stubs:
            payment_ids = []
            for stub in stubs.values():
                created = await stub.CreatePayment(create_request(authorize=True))
                payment_ids.append(created.payment.payment_id)
            # Then one capture per worker, at once.
            captures = [
                asyncio.ensure_future(stub.CapturePayment(pb.CapturePaymentRequest(payment_id=p)))
                for stub, p in zip(stubs.values(), payment_ids, strict=True)
            ]

            async def all_in_flight() -> bool:
                # The capture intent is committed before the gateway is called.
                stub = next(iter(stubs.values()))
                for payment_id in payment_ids:
                    got = await stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
                    if len(got.payment.transactions) != 2:
                        return False
                return True

            await eventually(all_in_flight)
            assert not any(capture.done() for capture in captures)
            exit_code = await workers.server.terminate()
            responses = await asyncio.gather(*captures)
        assert [r.payment.captured_amount_minor for r in responses] == [1099, 1099]
        assert exit_code == 0
        assert not any(_alive(pid) for pid in pids)


async def test_make_run_starts_the_embedded_services_once_for_every_worker(tmp_path: Path) -> None:
    """No database, Redis or Kafka configured (what `make run` does): the supervisor starts
    one embedded PostgreSQL, Redis and broker and migrates once; both workers use them."""
    unset = ("DATABASE_URL", "DB_HOST", "REDIS_URL", "REDIS_HOST", "KAFKA_BROKERS")
    server = ServerProcess("", "--migrate", "--workers", "2")
    server.env = {k: v for k, v in server.env.items() if k not in unset} | {
        "EMBEDDED_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "info",
    }
    workers = Workers(server)
    try:
        await workers.start()
        output = server.output()
        assert output.count("Running upgrade  -> 0001") == 1  # migrated once
        for service in ("PostgreSQL", "Redis", "Kafka (Tansu)"):
            assert output.count(f'"message": "embedded {service} running"') == 1, service
        async with channel_per_worker(workers) as stubs:
            assert len(stubs) == 2  # both workers serve from the one embedded database
        assert await server.terminate() == 0
    finally:
        print(server.output()[-8000:])
        server.close()


async def test_a_port_another_program_holds_is_refused_before_any_worker_starts(
    workers_database_url: str,
) -> None:
    server = ServerProcess(workers_database_url, "--workers", "2")
    with socket.socket() as taken:  # no SO_REUSEPORT: nobody may share it
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        result = await asyncio.to_thread(
            subprocess.run,
            [PAYMENT_SERVICE, "serve", "--workers", "2"],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"cannot serve: cannot bind 127.0.0.1:{server.port}" in result.stderr
    assert "payment-service is ready" not in result.stdout
