"""The supervisor of `payment-service serve --workers N`: N worker processes (server/worker.py)
sharing the gRPC, REST and ops ports, restarted when they die, drained together on SIGTERM.

Why each worker binds the ports itself with SO_REUSEPORT rather than inheriting one socket
from here: gRPC's Python server cannot adopt a listening socket, only bind an address, so the
gRPC port must be SO_REUSEPORT; the REST port does the same so that both spread connections
the same way (the kernel hashes each new connection to one worker's socket, rather than
waking every worker for each connection on one shared queue). The supervisor keeps a bound,
never-listening SO_REUSEPORT socket on each port: it turns a port 0 into a fixed one the
workers share, and keeps the port ours while a worker restarts. A listening socket's queue
dies with its worker: a connection that arrived at a worker that crashed before accepting it
is reset, and the client reconnects to another.

The supervisor runs no event loop of the service, opens no connection of its own once the
workers run, and owns the directory where prometheus_client's multiprocess mode keeps each
worker's metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import multiprocess

log = logging.getLogger("payments.supervisor")

# A worker that dies is restarted after FIRST_BACKOFF, doubling with each quick death up to
# MAX_BACKOFF; one that ran STABLE_AFTER seconds starts the count again.
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0
# On top of SHUTDOWN_GRACE_SECONDS: the jobs, the REST server and the clients closing.
DRAIN_MARGIN = 15.0


class PortInUse(Exception):
    pass


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound SO_REUSEPORT socket that never listens: port 0 becomes a free port, and the
    workers (same user, SO_REUSEPORT) bind it beside this one."""
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - as the servers bind it
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return sock


@dataclass
class Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    serving: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


class Supervisor:
    def __init__(
        self,
        count: int,
        env: Mapping[str, str],
        *,
        drain_seconds: float,
        metrics_dir: str,
        on_ready: Callable[[list[int]], None],
    ) -> None:
        self._workers = [Worker(i) for i in range(count)]
        self._env = dict(env)
        self._drain_seconds = drain_seconds
        self._metrics_dir = metrics_dir
        self._on_ready = on_ready
        self._stopping = asyncio.Event()

    async def _spawn(self, worker: Worker) -> bool:
        """Starts the worker; True once it serves, False if it exited first."""
        read_fd, write_fd = os.pipe()
        try:
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server.worker",
                "--ready-fd",
                str(write_fd),
                "--parent",
                str(os.getpid()),
                env=self._env,
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        worker.started_at = time.monotonic()
        line = await _first_line(read_fd)  # EOF (b"") when it died before serving
        worker.serving = line.startswith(b"ready")
        return worker.serving

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        startup: asyncio.Future[list[bool]] = asyncio.ensure_future(
            asyncio.gather(*(self._spawn(worker) for worker in self._workers))
        )
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((startup, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not startup.done():  # stopped while starting
            startup.cancel()
            return await self._shutdown()
        if not all(startup.result()):
            return await self._failed_start()
        self._on_ready([worker.pid for worker in self._workers])
        watchers = [asyncio.create_task(self._watch(worker)) for worker in self._workers]
        await self._stopping.wait()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        return await self._shutdown()

    async def _failed_start(self) -> int:
        """A worker that cannot start (a port taken, a bad setting) will not start on a
        retry either: stop them all, exiting with its code (2: configuration)."""
        codes = []
        for worker in self._workers:
            if worker.process is not None and not worker.serving:
                with contextlib.suppress(TimeoutError):
                    codes.append(await asyncio.wait_for(worker.process.wait(), 10))
        await self._shutdown()
        code = next((c for c in codes if c > 0), 1)
        log.error("a worker exited while starting (code %s): stopping", code)
        return code

    async def _watch(self, worker: Worker) -> None:
        """Restarts the worker whenever it dies, with backoff, until the supervisor stops."""
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            worker.serving = False
            self._forget(worker.pid)
            ran = time.monotonic() - worker.started_at
            worker.quick_deaths = 0 if ran >= STABLE_AFTER else worker.quick_deaths + 1
            delay = min(FIRST_BACKOFF * 2 ** (worker.quick_deaths - 1), MAX_BACKOFF)
            log.warning("worker %d (pid %d) exited with %s after %.0fs; restarting in %.1fs",
                        worker.index, worker.pid, code, ran, delay)  # fmt: skip
            await asyncio.sleep(delay)
            if await self._spawn(worker):
                log.warning("worker %d restarted (pid %d)", worker.index, worker.pid)

    def _forget(self, pid: int) -> None:
        """Its per-process gauges leave /metrics (its counters stay in the totals)."""
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, self._metrics_dir)  # type: ignore[no-untyped-call]

    async def _shutdown(self) -> int:
        """SIGTERM to every live worker, then wait for them to drain; 0 when every serving
        worker did (one still starting serves no call: SIGTERM may end it before it could
        set its handler)."""
        running = [w for w in self._workers if w.process and w.process.returncode is None]
        serving = [w.serving for w in running]
        processes = [w.process for w in running if w.process is not None]
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(self._drain_seconds):
                codes = await asyncio.gather(*(process.wait() for process in processes))
        except TimeoutError:
            log.error("workers still running after %.0fs: killing them", self._drain_seconds)
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            return 1
        drained = all(code == 0 for code, was in zip(codes, serving, strict=True) if was)
        return 0 if drained else 1


async def _first_line(fd: int) -> bytes:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return await reader.readline()
    finally:
        transport.close()


def supervise(
    count: int,
    env: Mapping[str, str],
    *,
    drain_seconds: float,
    on_ready: Callable[[list[int]], None],
) -> int:
    """Runs `count` workers until SIGTERM or SIGINT; the exit code of the whole."""
    metrics_dir = tempfile.mkdtemp(prefix="payments-metrics-")
    try:
        supervisor = Supervisor(
            count,
            {**env, "PROMETHEUS_MULTIPROC_DIR": metrics_dir},
            drain_seconds=drain_seconds + DRAIN_MARGIN,
            metrics_dir=metrics_dir,
            on_ready=on_ready,
        )
        return asyncio.run(supervisor.run())
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
