"""The server under test: `payment-service serve` as a real subprocess, as a new user runs it
(simulator gateway; authentication, audit, encryption and fraud checks on by default), on a
fresh database of this machine's PostgreSQL, migrated by the server itself; both gone
afterwards.

The server inherits the environment (e.g. LOG_LEVEL=warning to bench without request logs).
It trusts a signing key made for the run (a JWKS file), whose admin token makes every call.
Its embedded Redis and Kafka broker keep their data in the run's temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.auth.dev_keys import DevelopmentKey

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ISSUER = AUDIENCE = "payment-service-bench"
# One identity makes every call: the per-caller rate limit would measure itself, not the
# service. Everything else stays at its default.
OVERRIDES = {"RATE_LIMIT_ENABLED": "false"}
START_WITHIN_S = 90.0
STOP_WITHIN_S = 30.0


@dataclass(frozen=True)
class Server:
    pid: int
    port: int
    token: str
    database: str
    command: list[str]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def database_counters(self) -> dict[str, int]:
        """Cumulative counters of the server's database (pg_stat_database): commits,
        rollbacks, sessions opened. PostgreSQL updates them about once a second."""
        return asyncio.run(_database_counters(self.database))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signing_key(directory: Path) -> tuple[dict[str, str], str]:
    """Server environment trusting a key made for this run, and an admin token it signs."""
    key = DevelopmentKey(Ed25519PrivateKey.generate())
    jwks = directory / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.jwk]}))
    token = key.mint(
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="bench",
        scopes=["admin"],
        ttl_seconds=24 * 3600,
        kind="service",
    )
    return {"JWT_JWKS_FILE": str(jwks), "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}, token


@contextlib.contextmanager
def spawned_server(directory: Path, workers: int | None) -> Iterator[Server]:
    """On failure, the tail of the server's output goes to stderr."""
    database = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{database}"'))
    port = free_port()
    auth_env, token = signing_key(directory)
    env = os.environ | auth_env | OVERRIDES
    env |= {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(port),
        "APP_PORT": "0",  # the REST shim on any free port
        "EMBEDDED_DATA_DIR": str(directory / "data"),
    }
    command = [str(Path(sys.executable).with_name("payment-service")), "serve", "--migrate"]
    command += ["--workers", str(workers)] if workers else []
    log_path = directory / "server.log"
    proc = None
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait_until_serving(f"127.0.0.1:{port}", proc)
        yield Server(proc.pid, port, token, database, command)
    except Exception:
        tail = log_path.read_bytes()[-4000:].decode(errors="replace")
        sys.stderr.write(f"server output (tail):\n{tail}\n")
        raise
    finally:
        if proc is not None:
            _stop(proc)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def _wait_until_serving(target: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before serving")
            with contextlib.suppress(grpc.RpcError):
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            time.sleep(0.1)
    raise TimeoutError(f"server on {target} not SERVING within {START_WITHIN_S:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server drains), then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


async def _database_counters(database: str) -> dict[str, int]:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        row = await admin.fetchrow(
            "SELECT xact_commit AS commits, xact_rollback AS rollbacks, sessions"
            " FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await admin.close()
    return {key: int(value) for key, value in dict(row or {}).items()}
