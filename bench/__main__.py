"""Capacity of the payment service: `make bench` (python -m bench).

Starts `payment-service serve` as a subprocess on a fresh database (bench/server.py), then
drives it from separate client processes, each with several channels, in three phases of the
same server run, each a warm-up followed by a measured window:

1. capacity: --clients loops of create -> authorize -> capture, each a new payment;
2. Health/Check: the same loops calling the null RPC, the yardstick of the machine;
3. low load: --low-clients lifecycle loops, for latency.

For each: lifecycles (or calls) per second; p50/p95/p99 of a lifecycle and of each RPC;
CPU-ms per lifecycle of the server (each worker too), PostgreSQL and the clients (/proc);
peak RSS per worker; errors by status code. Prints a table with the targets of issue 12 and
writes the figures as JSON. Missed targets never fail the command: this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import HEALTH, LIFECYCLE
from bench.measure import Phase, client_processes, run_phase
from bench.report import health_ratio, render, targets
from bench.server import OVERRIDES, spawned_server

DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--clients", type=int, default=32, help="concurrent loops, capacity phases (32)")
    add("--low-clients", type=int, default=4, help="concurrent loops, low-load phase (4)")
    add("--processes", type=int, default=4, help="client processes (4)")
    add("--channels", type=int, default=4, help="gRPC channels per client process (4)")
    add("--warmup", type=float, default=10.0, help="seconds before each measured window (10)")
    add("--duration", type=float, default=30.0, help="seconds of each measured window (30)")
    add("--workers", type=int, help="passed on as `serve --workers N` (only when given)")
    add("--json", type=Path, default=DEFAULT_JSON, help=f"results file ({DEFAULT_JSON.name})")
    args = parser.parse_args(argv)
    if min(args.clients, args.low_clients, args.processes, args.channels) < 1:
        parser.error("--clients, --low-clients, --processes and --channels must be >= 1")
    if args.warmup < 0 or args.duration <= 0:
        parser.error("--warmup must be >= 0 and --duration > 0")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = [
        Phase("capacity", LIFECYCLE, args.clients, args.warmup, args.duration),
        Phase("health", "health", args.clients, args.warmup, args.duration),
        Phase("low_load", LIFECYCLE, args.low_clients, args.warmup, args.duration),
    ]
    loadavg = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as directory,
        spawned_server(Path(directory), args.workers) as server,
        client_processes(server, args.processes, args.channels) as clients,
    ):
        phases = {phase.name: run_phase(phase, server, clients) for phase in plan}
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": loadavg},
        "server": {
            "command": ["payment-service", *server.command[1:]],
            "workers_flag": args.workers,
            "overrides": OVERRIDES,
            "log_level": os.environ.get("LOG_LEVEL", "default"),
        },
        "load": {"processes": args.processes, "channels": args.channels},
        "phases": phases,
        "health_ratio": health_ratio(phases),
        "targets": targets(phases),
        "units": {"ops": f"lifecycles ({LIFECYCLE} phases) or {HEALTH} calls"},
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        result = run(args)
    except (RuntimeError, TimeoutError) as exc:  # the server did not start: its output is shown
        raise SystemExit(f"bench: {exc}") from None
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
