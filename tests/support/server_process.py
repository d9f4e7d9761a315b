"""The real `payment-service serve` as a child process, on a free port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.auth import auth_env
from tests.support.channels import open_channel
from tests.support.encryption import encryption_env
from tests.support.polling import eventually, free_port

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")


class ServerProcess:
    def __init__(self, database_url: str, *args: str, **env: str) -> None:
        self.port = free_port()
        self.args = args
        self.env = (
            os.environ
            | {
                "DATABASE_URL": database_url.replace("+asyncpg", ""),
                "GRPC_PORT": str(self.port),
                "GRPC_HOST": "127.0.0.1",
                "LOG_LEVEL": "warning",
                "DB_POOL_SIZE": "4",  # many servers share the test PostgreSQL
                "RATE_LIMIT_ENABLED": "false",  # as in settings_for_tests
                "BACKGROUND_LEASE_NAME": f"tests-{uuid.uuid4().hex}",  # as in settings_for_tests
                # One process, no supervisor: what a crash test kills is the server itself.
                # tests/e2e/test_workers.py asks for workers.
                "SERVER_WORKERS": "1",
            }
            | encryption_env()
            | auth_env()  # trusts this session's test tokens
            | env
        )
        self.process: subprocess.Popen[bytes] | None = None
        # Output goes to a file: a pipe nobody reads would stall a chatty server.
        self.log = Path(tempfile.mkstemp(prefix="payment-service-", suffix=".log")[1])

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def start(self, within: float = 30) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
                [PAYMENT_SERVICE, "serve", *self.args],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        await eventually(self.serving, within=within)

    async def serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited: {self.output()[-3000:]}")
        try:
            async with open_channel(self.target) as channel:
                response = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
        except grpc.aio.AioRpcError:
            return False
        return response.status == health_pb2.HealthCheckResponse.SERVING

    async def terminate(self) -> int:
        """SIGTERM, then the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 30)

    def kill(self) -> None:
        """SIGKILL: no goodbye, like a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        self.log.unlink(missing_ok=True)
