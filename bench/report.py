"""The targets of issue 12 next to what was measured, and the table printed on screen.

A missed target is reported, never raised: the benchmark measures, it does not test.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from bench.load import HEALTH, LIFECYCLE, PAYMENT_RPCS

PHASES = {"capacity": "capacity", "health": "Health/Check", "low_load": "low load"}
CPU_ROWS = {
    "server": "server (all its Python processes)",
    "postgres": "PostgreSQL (all its processes)",
    "embedded_services": "embedded Redis + Kafka broker",
    "clients": "load clients",
    "machine": "whole machine (anything running)",
    "other_load": "  of which not the benchmark's",
}
# More CPU than this used by others during a window makes its figures unreliable.
BUSY_MACHINE_CORES = 0.2
DATABASE_ROWS = {
    "commits": "commits",
    "rollbacks": "rollbacks",
    "sessions": "new connections",
}


def health_ratio(phases: dict[str, Any]) -> float | None:
    """Lifecycles/s over a third of the Health/Check rate: a lifecycle is three calls, so 1.0
    would mean a payment call costs the server no more than a null call."""
    health = phases["health"]["ops_per_s"]
    return phases["capacity"]["ops_per_s"] / (health / 3) if health else None


def targets(phases: dict[str, Any]) -> list[dict[str, Any]]:
    capacity, low = phases["capacity"], phases["low_load"]
    rss = [w["peak_rss_mib"] for p in phases.values() for w in p["workers"]]
    errors = sum(sum(p["errors"].values()) for p in phases.values())  # a failed lifecycle's too
    ge, le = operator.ge, operator.le
    rows: list[tuple[str, str, float | None, Callable[[float, float], bool], float]] = [
        (f"lifecycles/s at {capacity['clients']} clients", ">=", capacity["ops_per_s"], ge, 200),
        ("lifecycles/s / (Health/Check/s / 3)", ">=", health_ratio(phases), ge, 0.20),
        (
            f"p95 of a lifecycle at {low['clients']} clients, ms",
            "<=",
            low["latency"][LIFECYCLE]["p95_ms"],
            le,
            50,
        ),
        ("server CPU per lifecycle, ms", "<=", capacity["cpu_ms_per_op"]["server"], le, 4),
        ("peak RSS per worker, MiB", "<=", max(rss) if None not in rss else None, le, 200),
        ("failed calls, any phase, warm-ups included", "<=", errors, le, 0),
    ]
    return [
        {
            "target": name,
            "limit": f"{sign} {limit:g}",
            "measured": value,
            "met": value is not None and holds(value, limit),
        }
        for name, sign, value, holds, limit in rows
    ]


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _percentiles(summary: dict[str, float | None] | None) -> str:
    if summary is None:
        return ""
    return "/".join(_num(summary[f"p{p}_ms"]) for p in (50, 95, 99))


def render(result: dict[str, Any]) -> str:
    phases: dict[str, Any] = result["phases"]
    capacity = phases["capacity"]
    workers = capacity["workers"]
    header = [
        f"payment lifecycle benchmark on {result['machine']['cpus']} CPUs (load average "
        f"{result['machine']['loadavg_before'][0]:.2f} before the run)",
        f"server: `{' '.join(result['server']['command'])}`, {len(workers)} worker(s); load: "
        f"{result['load']['processes']} client processes x {result['load']['channels']} "
        f"channels; each phase {capacity['warmup_s']:g} s warm-up + "
        f"{capacity['measured_s']:g} s measured",
    ]
    table: list[tuple[str, ...]] = [("", *(PHASES[key] for key in phases))]

    def row(label: str, cells: list[str]) -> None:
        table.append((label, *cells))

    each = list(phases.values())
    row("concurrent clients", [str(p["clients"]) for p in each])
    row("lifecycles/s or calls/s", [_num(p["ops_per_s"]) for p in each])
    for name in (LIFECYCLE, *PAYMENT_RPCS, HEALTH):
        row(f"{name} p50/p95/p99 ms", [_percentiles(p["latency"].get(name)) for p in each])
    row("CPU ms per lifecycle or call", ["" for p in each])
    for key, label in CPU_ROWS.items():
        row(f"  {label}", [_num(p["cpu_ms_per_op"][key], 2) for p in each])
        for i, worker in enumerate(workers if key == "server" else []):
            row(f"    worker {worker['pid']}", [_worker(p, i, "cpu_ms_per_op", 2) for p in each])
    for i, worker in enumerate(workers):
        row(f"peak RSS MiB, worker {worker['pid']}", [_worker(p, i, "peak_rss_mib") for p in each])
    row("PostgreSQL per lifecycle or call", ["" for p in each])
    for key, label in DATABASE_ROWS.items():
        row(f"  {label}", [_num(p["database_per_op"].get(key), 2) for p in each])
    row("errors", [str(sum(p["errors"].values())) for p in each])
    row("failed lifecycles", [str(p["failed_lifecycles"]) for p in each])

    lines = [*header, "", *_columns(table), ""]
    for key, phase in phases.items():
        if phase["errors"]:
            detail = ", ".join(f"{name}: {n}" for name, n in phase["errors"].items())
            lines.append(f"errors in {PHASES[key]}: {detail}")
        if "postgres_note" in phase:
            lines.append(f"{PHASES[key]}: {phase['postgres_note']}")
        other_cores = phase["cpu_ms"]["other_load"] / (phase["measured_s"] * 1000)
        if other_cores > BUSY_MACHINE_CORES:
            lines.append(
                f"WARNING {PHASES[key]}: other work on the machine used {other_cores:.2f} CPUs "
                "during the window; its figures are not comparable"
            )
    lines.append(f"lifecycles/s / (Health/Check/s / 3) = {_num(result['health_ratio'], 3)}")
    lines += ["", "targets (issue 12; a measurement, the command never fails on them)"]
    lines += _columns(
        [("", "target", "measured", "")]
        + [
            (t["target"], t["limit"], _num(t["measured"], 2), "pass" if t["met"] else "FAIL")
            for t in result["targets"]
        ]
    )
    return "\n".join(lines)


def _worker(phase: dict[str, Any], index: int, key: str, digits: int = 1) -> str:
    workers = phase["workers"]
    return _num(workers[index][key], digits) if index < len(workers) else "n/a"


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
