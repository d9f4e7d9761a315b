"""Payment lifecycle throughput: N clients loop create -> authorize -> capture.

Phases, all through one grpc.aio channel and the same N client loops:
1. warmup: lifecycles, not recorded;
2. lifecycles for --duration seconds (or until --lifecycles have started);
3. the null-RPC baseline: grpc.health.v1.Health/Check alone, same loops, for as long as phase 2
   took. A separate phase rather than interleaved calls, so the baseline measures the gRPC
   stack itself (latency and throughput), not queueing behind payment calls.

Without --target it creates a fresh database, starts `payment-service serve --migrate` on a
free port, samples the server's VmHWM, and always stops it and drops the database afterwards.
The server inherits the environment (e.g. LOG_LEVEL=warning to bench without request logs)
and trusts a signing key made for the run (a JWKS file in a temporary directory), with whose
admin token every call is made. With --target, the token comes from --token or $TOKEN.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import Process
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import asyncpg
import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.auth.dev_keys import DevelopmentKey
from payments.v1 import payment_pb2, payment_service_pb2, payment_service_pb2_grpc

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEOUT = 10.0  # per RPC: a stuck call shows up as DEADLINE_EXCEEDED
HEALTH = "Health/Check"
PAYMENT_RPCS = ("CreatePayment", "AuthorizePayment", "CapturePayment")
RESULTS = Path(__file__).parent / "results"


class Recorder:
    """Latency of each successful call; failures counted by RPC and status code."""

    def __init__(self) -> None:
        self.on = False
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()

    async def call(self, name: str, method: Any, request: Any) -> Any | None:
        started = time.perf_counter()
        try:
            response = await method(request, timeout=TIMEOUT)
        except grpc.aio.AioRpcError as error:
            if self.on:
                self.errors[f"{name} {error.code().name}"] += 1
            return None
        if self.on:
            self.latencies[name].append(time.perf_counter() - started)
        return response

    def calls(self, names: tuple[str, ...]) -> int:
        failed = sum(n for key, n in self.errors.items() if key.split()[0] in names)
        return failed + sum(len(self.latencies[name]) for name in names)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vmhwm_kib(pid: int) -> int:
    """Peak resident set size of a process (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


BENCH_ISSUER = BENCH_AUDIENCE = "payment-service-bench"


def bench_signing_key(directory: Path) -> tuple[dict[str, str], str]:
    """Server environment trusting a key made for this run, and an admin token it signs."""
    key = DevelopmentKey(Ed25519PrivateKey.generate())
    jwks = directory / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.jwk]}))
    token = key.mint(
        issuer=BENCH_ISSUER,
        audience=BENCH_AUDIENCE,
        subject="bench",
        scopes=["admin"],
        ttl_seconds=24 * 3600,
        kind="service",
    )
    env = {"JWT_JWKS_FILE": str(jwks), "JWT_ISSUER": BENCH_ISSUER, "JWT_AUDIENCE": BENCH_AUDIENCE}
    return env, token


def bearer(token: str | None) -> list[grpc.aio.ClientInterceptor]:
    return [_Bearer(token)] if token else []


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(details._replace(metadata=self._metadata), request)


@contextlib.asynccontextmanager
async def spawned_server(log: IO[bytes]) -> AsyncIterator[tuple[str, int, str]]:
    """A fresh database and a server process on a free port; both gone afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    proc, target = None, f"127.0.0.1:{free_port()}"
    keys = tempfile.TemporaryDirectory(prefix="bench-jwks-")
    auth_env, token = bench_signing_key(Path(keys.name))
    try:
        env = (
            os.environ
            | auth_env
            | {
                "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
                "GRPC_HOST": "127.0.0.1",
                "GRPC_PORT": target.split(":")[1],
                # One client process makes every call: the benchmark measures throughput,
                # not the per-caller limit.
                "RATE_LIMIT_ENABLED": "false",
            }
        )
        command = Path(sys.executable).with_name("payment-service")
        proc = await asyncio.create_subprocess_exec(
            command, "serve", "--migrate", env=env, stdout=log, stderr=log
        )
        await wait_until_serving(target, proc, deadline=time.monotonic() + 60)
        yield target, proc.pid, token
    finally:
        keys.cleanup()
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def wait_until_serving(target: str, proc: Process, deadline: float) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before serving")
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"server on {target} not SERVING within the deadline")


async def lifecycle(stub: Any, rec: Recorder) -> bool:
    """create -> authorize -> capture of a new order; True when all three succeed."""
    pb = payment_service_pb2
    create = pb.CreatePaymentRequest(
        request_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        amount_minor=1099,
        currency="EUR",
        payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
        payment_method_token="pm_card_visa",
    )
    created = await rec.call("CreatePayment", stub.CreatePayment, create)
    if created is None:
        return False
    payment_id = created.payment.payment_id
    auth = pb.AuthorizePaymentRequest(payment_id=payment_id, request_id=str(uuid.uuid4()))
    if await rec.call("AuthorizePayment", stub.AuthorizePayment, auth) is None:
        return False
    capture = pb.CapturePaymentRequest(payment_id=payment_id, request_id=str(uuid.uuid4()))
    return await rec.call("CapturePayment", stub.CapturePayment, capture) is not None


def budget(*, seconds: float = math.inf, count: int | None = None) -> Callable[[], bool]:
    """True while the phase goes on: until `seconds` pass, or `count` iterations started."""
    end, left = time.perf_counter() + seconds, [math.inf if count is None else count]

    def more() -> bool:
        left[0] -= 1
        return left[0] >= 0 and time.perf_counter() < end

    return more


Step = Callable[[], Awaitable[Any]]


async def run_phase(clients: int, more: Callable[[], bool], step: Step) -> float:
    """`clients` concurrent loops of `step` while `more()`; returns the elapsed seconds."""

    async def client() -> None:
        while more():
            await step()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


def latency_stats(values: list[float]) -> dict[str, float]:
    """Count and nearest-rank percentiles in milliseconds."""
    stats: dict[str, float] = {"ok": len(values)}
    ordered = sorted(values) or [math.nan]
    for p in (50, 95, 99):
        stats[f"p{p}_ms"] = ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000
    return stats


async def measure(
    args: argparse.Namespace, target: str, pid: int | None, token: str | None
) -> dict[str, Any]:
    rec, outcomes = Recorder(), Counter[bool]()
    ready_kib = peak_kib = vmhwm_kib(pid) if pid else 0

    async def one_lifecycle() -> None:
        outcomes[await lifecycle(stub, rec)] += 1

    async def sample_memory() -> None:
        nonlocal peak_kib
        while pid:
            peak_kib = max(peak_kib, vmhwm_kib(pid))
            await asyncio.sleep(0.25)

    async with grpc.aio.insecure_channel(target, interceptors=bearer(token)) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        sampler = asyncio.create_task(sample_memory())
        await run_phase(args.concurrency, budget(seconds=args.warmup), one_lifecycle)
        rec.on, outcomes = True, Counter()
        measured = (
            budget(count=args.lifecycles) if args.lifecycles else budget(seconds=args.duration)
        )
        elapsed = await run_phase(args.concurrency, measured, one_lifecycle)
        null_rpc = health_pb2.HealthCheckRequest()
        health_elapsed = await run_phase(
            args.concurrency,
            budget(seconds=elapsed),
            lambda: rec.call(HEALTH, health.Check, null_rpc),
        )
        sampler.cancel()
        peak_kib = max(peak_kib, vmhwm_kib(pid) if pid else 0)

    rpcs = {name: latency_stats(rec.latencies[name]) for name in (*PAYMENT_RPCS, HEALTH)}
    for name in PAYMENT_RPCS:
        rpcs[name]["p50_vs_health_p50"] = rpcs[name]["p50_ms"] / rpcs[HEALTH]["p50_ms"]
    payment_rps = rec.calls(PAYMENT_RPCS) / elapsed
    health_rps = rec.calls((HEALTH,)) / health_elapsed
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "target": target,
        "concurrency": args.concurrency,
        "warmup_s": args.warmup,
        "lifecycle_phase_s": elapsed,
        "health_phase_s": health_elapsed,
        "lifecycles_completed": outcomes[True],
        "lifecycles_failed": outcomes[False],
        "lifecycles_per_s": outcomes[True] / elapsed,
        "payment_rpc_per_s": payment_rps,
        "health_rpc_per_s": health_rps,
        "health_vs_payment_throughput": health_rps / payment_rps if payment_rps else math.nan,
        "rpcs": rpcs,
        "errors": dict(sorted(rec.errors.items())),
        "server_vmhwm_mib": peak_kib / 1024 if pid else None,
        "server_vmhwm_at_ready_mib": ready_kib / 1024 if pid else None,
    }


def report(r: dict[str, Any]) -> str:
    lines = [
        f"payment lifecycle benchmark: {r['target']}, {r['concurrency']} clients, "
        f"{r['lifecycle_phase_s']:.1f} s measured after {r['warmup_s']:.1f} s warmup",
        f"lifecycles/s        {r['lifecycles_per_s']:8.1f}  ({r['lifecycles_completed']} "
        f"completed, {r['lifecycles_failed']} failed)",
        f"payment RPC/s       {r['payment_rpc_per_s']:8.1f}",
        f"Health/Check RPC/s  {r['health_rpc_per_s']:8.1f}  (separate phase of "
        f"{r['health_phase_s']:.1f} s) = {r['health_vs_payment_throughput']:.1f}x payment RPC/s",
        "",
        f"{'rpc':<18}{'ok':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p50 / health p50':>18}",
    ]
    for name, s in r["rpcs"].items():
        ratio = f"{s.get('p50_vs_health_p50', 1.0):.1f}x"
        lines.append(
            f"{name:<18}{s['ok']:>8}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{ratio:>18}"
        )
    lines += ["", "errors: " + (", ".join(f"{k}: {n}" for k, n in r["errors"].items()) or "none")]
    if r["server_vmhwm_mib"] is not None:
        lines.append(
            f"server peak memory (VmHWM): {r['server_vmhwm_mib']:.1f} MiB "
            f"({r['server_vmhwm_at_ready_mib']:.1f} MiB when ready)"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    if args.target:
        results = await measure(args, args.target, None, args.token or os.environ.get("TOKEN"))
    else:
        with tempfile.TemporaryFile() as log:
            try:
                async with spawned_server(log) as (target, pid, token):
                    results = await measure(args, target, pid, token)
            except Exception:
                log.seek(0)
                tail = log.read()[-4000:].decode(errors="replace")
                sys.stderr.write(f"server output (tail):\n{tail}\n")
                raise
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"lifecycle-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"results: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lifecycle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--concurrency", type=int, default=32, help="client loops (32)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--lifecycles", type=int, help="measure this many instead of a duration")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds first (2)")
    parser.add_argument("--target", metavar="HOST:PORT", help="bench a running server instead")
    parser.add_argument("--token", help="bearer token for --target (default: $TOKEN)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
