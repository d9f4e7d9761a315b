"""The phases of a run: orders to the client processes, /proc read at both ends of each
measured window, and the figures of the phase."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench import procfs
from bench.load import HEALTH, LIFECYCLE, PAYMENT_RPCS, Kind, Order, client_process
from bench.server import Server
from bench.stats import latency_summary, merge, spread

ORDERS_ARRIVE_S = 0.5  # every process has its order before the phase starts
POSTGRES_UNREADABLE = "no PostgreSQL process readable in /proc"


@dataclass(frozen=True)
class ClientProcess:
    process: BaseProcess
    pipe: Connection


@dataclass(frozen=True)
class Phase:
    name: str
    kind: Kind
    clients: int
    warmup_s: float
    measured_s: float


@contextlib.contextmanager
def client_processes(server: Server, count: int, channels: int) -> Iterator[list[ClientProcess]]:
    # spawn, not fork: a gRPC runtime must not be inherited across fork.
    context = multiprocessing.get_context("spawn")
    started: list[ClientProcess] = []
    try:
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=client_process,
                args=(theirs, server.target, server.token, channels),
                daemon=True,
            )
            process.start()
            theirs.close()
            started.append(ClientProcess(process, ours))
        yield started
    finally:
        for client in started:
            with contextlib.suppress(OSError):
                client.pipe.send(None)
        for client in started:
            client.process.join(10)
            if client.process.is_alive():
                client.process.terminate()
                client.process.join()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def run_phase(phase: Phase, server: Server, clients: list[ClientProcess]) -> dict[str, Any]:
    start = time.monotonic() + ORDERS_ARRIVE_S
    measure_from = start + phase.warmup_s
    measure_until = measure_from + phase.measured_s
    for client, loops in zip(clients, spread(phase.clients, len(clients)), strict=True):
        client.pipe.send(Order(phase.kind, loops, start, measure_from, measure_until))
    sleep_until(measure_from)
    before, busy_before = procfs.snapshot(), procfs.machine_busy_ticks()
    counters_before = server.database_counters()
    sleep_until(measure_until)
    after, busy_after = procfs.snapshot(), procfs.machine_busy_ticks()
    counters_after = server.database_counters()
    sample = merge(client.pipe.recv() for client in clients)

    tree = procfs.server_processes(server.pid, server.port, after)
    postgres = procfs.named(before, "postgres") + procfs.named(after, "postgres")
    names = [LIFECYCLE, *PAYMENT_RPCS] if phase.kind == LIFECYCLE else [HEALTH]
    ops = len(sample.latencies.get(names[0], []))

    def cpu(pids: list[int]) -> float:
        return procfs.cpu_ms(before, after, pids)

    def per_op(total: float | None) -> float | None:
        return None if total is None or not ops else total / ops

    cpu_ms: dict[str, float | None] = {
        "server": cpu(tree.interpreter),
        "postgres": cpu(postgres) if postgres else None,
        "embedded_services": cpu(tree.others),
        "clients": cpu([client.process.pid for client in clients if client.process.pid]),
        "machine": (busy_after - busy_before) * 1000 / procfs.CLOCK_TICKS_PER_S,
    }
    # What else ran meanwhile (other work on a shared machine): a figure to trust the rest by.
    ours = sum(value or 0.0 for key, value in cpu_ms.items() if key != "machine")
    cpu_ms["other_load"] = max(0.0, (cpu_ms["machine"] or 0.0) - ours)
    database = {key: counters_after[key] - counters_before[key] for key in counters_after}
    result: dict[str, Any] = {
        "kind": phase.kind,
        "clients": phase.clients,
        "warmup_s": phase.warmup_s,
        "measured_s": phase.measured_s,
        "ops": ops,
        "ops_per_s": ops / phase.measured_s,
        "failed_lifecycles": sample.failed_lifecycles,
        "latency": {name: latency_summary(sample.latencies.get(name, [])) for name in names},
        "errors": dict(sorted(sample.errors.items())),
        "cpu_ms": cpu_ms,
        "cpu_ms_per_op": {key: per_op(value) for key, value in cpu_ms.items()},
        "database": database,
        "database_per_op": {key: per_op(value) for key, value in database.items()},
        "workers": [
            {
                "pid": pid,
                "cpu_ms_per_op": per_op(cpu([pid])),
                "peak_rss_mib": procfs.peak_rss_mib(pid),
            }
            for pid in tree.workers
        ],
        "server_pids": tree.interpreter,
        "embedded_service_pids": tree.others,
    }
    if not postgres:
        result["postgres_note"] = POSTGRES_UNREADABLE
    return result
