"""The two service processes of the chaos suite: `payment-service serve` (one worker each) on
free ports, sharing the suite's own PostgreSQL, Redis and broker, the simulator's ledger in
that database (its books are shared, like a real gateway's) and one fault file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.chaos.postgres import free_port
from bench.server import _wait_until_serving

# Short timings so that what the faults leave behind settles within the run: a gateway call
# unanswered after 2 s is UNKNOWN; the reconciler settles operations open for 4 s.
TIMINGS = {
    "GATEWAY_TIMEOUT_SECONDS": "2",
    "RECONCILE_AFTER_SECONDS": "4",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "RETRY_POLL_INTERVAL_SECONDS": "1",
    "BACKGROUND_LEASE_SECONDS": "3",
    "OUTBOX_POLL_INTERVAL_SECONDS": "0.1",
}


class ServiceProcess:
    def __init__(self, name: str, directory: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self._env = os.environ | env | {"GRPC_HOST": "127.0.0.1", "GRPC_PORT": str(self.port)}
        self._log = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, *, migrate: bool = False) -> None:
        command = [str(Path(sys.executable).with_name("payment-service")), "serve"]
        command += ["--workers", "1", *(["--migrate"] if migrate else [])]
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
                command, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            await asyncio.to_thread(_wait_until_serving, self.target, self.process)
        except Exception:
            sys.stderr.write(self._log.read_bytes()[-3000:].decode(errors="replace"))
            raise

    def kill(self) -> None:
        """A crash: with one worker the server runs in this very process (no supervisor), so
        nothing drains, nothing is closed, calls in flight are cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
