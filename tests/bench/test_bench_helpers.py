"""The benchmark's pure helpers: percentiles, the split of clients over processes, /proc
parsing and the targets. Its speed figures themselves are never asserted."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter

from bench import procfs
from bench.procfs import ProcStat
from bench.report import render, targets
from bench.stats import Sample, latency_summary, merge, percentile, spread

# Two /proc/net/tcp rows listening on 0x2382 = 9090, one connected from it, one listening on
# 8080; the header row is skipped.
TCP_TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1
   1: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1
   2: 0100007F:2382 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1
   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 444 1
"""


def stat(
    pid: int, ppid: int, ticks: int, *, reaped: int = 0, started: int = 1, comm: str = "python3"
) -> ProcStat:
    return ProcStat(pid, comm, ppid, cpu_ticks=ticks, children_ticks=reaped, started=started)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_latency_summary_in_milliseconds() -> None:
    assert latency_summary([0.001, 0.002, 0.003]) == {
        "n": 3, "p50_ms": 2.0, "p95_ms": 3.0, "p99_ms": 3.0
    }  # fmt: skip
    assert latency_summary([]) == {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}


def test_spread_keeps_every_client() -> None:
    assert spread(32, 4) == [8, 8, 8, 8]
    assert spread(5, 4) == [2, 1, 1, 1]
    assert spread(2, 4) == [1, 1, 0, 0]


def test_merge_adds_up_the_processes() -> None:
    one, two = Sample(), Sample()
    one.record("lifecycle", 0.1)
    two.record("lifecycle", 0.2)
    two.record("CreatePayment", 0.05)
    one.errors["CreatePayment UNAVAILABLE"] += 1
    two.errors["CreatePayment UNAVAILABLE"] += 2
    two.failed_lifecycles = 3
    merged = merge([one, two])
    assert merged.latencies == {"lifecycle": [0.1, 0.2], "CreatePayment": [0.05]}
    assert merged.errors == Counter({"CreatePayment UNAVAILABLE": 3})
    assert merged.failed_lifecycles == 3


def test_parse_stat_with_a_command_name_holding_parentheses() -> None:
    fields = ["S", "41", *["0"] * 9, "120", "30", "7", "2", *["0"] * 4, "98765", "0"]
    parsed = procfs.parse_stat(f"4242 (a) b (c)) {' '.join(fields)}")
    assert parsed == stat(4242, 41, 150, reaped=9, started=98765, comm="a) b (c)")


def test_parse_stat_of_this_process() -> None:
    own = procfs.snapshot()[os.getpid()]
    assert own.ppid == os.getppid()
    assert own.cpu_ticks >= 0


def test_cpu_counts_new_processes_from_zero_and_never_a_reused_pid_backwards() -> None:
    before = {1: stat(1, 0, 100), 2: stat(2, 99, 500, started=10)}
    after = {
        1: stat(1, 0, 130),  # used 30 ticks
        2: stat(2, 1, 20, started=99),  # pid 2 reused by a new process: 20 ticks
        3: stat(3, 1, 5),  # started in the window: 5 ticks
    }
    tick_ms = 1000 / procfs.CLOCK_TICKS_PER_S
    assert procfs.cpu_ms(before, after, [1, 2, 3, 4]) == 55 * tick_ms
    assert procfs.cpu_ms(before, after, [1, 1]) == 30 * tick_ms


def test_cpu_of_a_child_that_exited_counts_through_its_parent_from_the_window_on() -> None:
    """A backend alive at the start (400 ticks so far) exits after 50 more; the postmaster
    reaps it (450 ticks) and a short-lived one (20 ticks) that came and went in between."""
    before = {1: stat(1, 0, 1000, reaped=3000), 7: stat(7, 1, 400)}
    after = {1: stat(1, 0, 1010, reaped=3000 + 450 + 20)}
    tick_ms = 1000 / procfs.CLOCK_TICKS_PER_S
    assert procfs.cpu_ms(before, after, [1, 7]) == (10 + 50 + 20) * tick_ms


def test_descendants_and_names() -> None:
    stats = {
        1: stat(1, 0, 0),
        10: stat(10, 1, 0),
        11: stat(11, 10, 0),
        12: stat(12, 11, 0, comm="postgres"),
        20: stat(20, 1, 0, comm="postgres: walwriter"),
    }
    assert procfs.descendants(stats, 10) == {10, 11, 12}
    assert procfs.named(stats, "postgres") == [12, 20]


def test_parse_vmhwm() -> None:
    status = "Name:\tpython3\nVmPeak:\t  300000 kB\nVmHWM:\t  143360 kB\nVmRSS:\t  100 kB\n"
    assert procfs.parse_vmhwm_kib(status) == 143360
    assert procfs.parse_vmhwm_kib("Name:\tkthreadd\n") is None
    assert (procfs.peak_rss_mib(os.getpid()) or 0) > 0


def test_listening_inodes_of_a_port() -> None:
    assert procfs.parse_listening_inodes(TCP_TABLE, 9090) == {111, 222}
    assert procfs.parse_listening_inodes(TCP_TABLE, 8080) == {444}
    assert procfs.parse_listening_inodes(TCP_TABLE, 1234) == set()


def test_busy_ticks_leave_out_idle_and_iowait() -> None:
    assert procfs.parse_busy_ticks("cpu  10 1 5 1000 50 2 3 4 0 0\ncpu0 1 2 3 4\n") == 25


LISTENER = """\
import socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
print(listener.getsockname()[1], flush=True)
sys.stdin.read()
"""


def listener(port: int) -> tuple[subprocess.Popen[str], int]:
    """A child process listening on `port` (0: any) with SO_REUSEPORT, and the port."""
    child = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def test_the_workers_are_the_processes_listening_on_the_port() -> None:
    """Two children share a port (SO_REUSEPORT), as `serve --workers 2` will: both are
    workers, this process (the root) is not, and all three run the same interpreter."""
    first, port = listener(0)
    second, _ = listener(port)
    try:
        found = procfs.server_processes(os.getpid(), port, procfs.snapshot())
        assert found.workers == sorted([first.pid, second.pid])
        assert {os.getpid(), first.pid, second.pid} <= set(found.interpreter)
        assert not {first.pid, second.pid} & set(found.others)
    finally:
        for child in (first, second):
            child.communicate("")


def phase(**overrides: object) -> dict[str, object]:
    """A phase as bench.measure.run_phase reports it."""
    cpu = {"server": 3.5, "postgres": 2.0, "embedded_services": 0.1, "clients": 1.0}
    cpu |= {"machine": 7.0, "other_load": 0.4}
    base: dict[str, object] = {
        "kind": "lifecycle",
        "clients": 32,
        "warmup_s": 10.0,
        "measured_s": 30.0,
        "ops": 7500,
        "ops_per_s": 250.0,
        "failed_lifecycles": 0,
        "latency": {"lifecycle": {"n": 10, "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0}},
        "errors": {},
        "cpu_ms": {key: value * 7500 for key, value in cpu.items()},
        "cpu_ms_per_op": cpu,
        "database_per_op": {"commits": 3.0, "rollbacks": 0.0, "sessions": 0.0},
        "workers": [{"pid": 1, "cpu_ms_per_op": 3.5, "peak_rss_mib": 150.0}],
    }
    return base | overrides


def test_targets_met_and_missed() -> None:
    phases = {"capacity": phase(), "health": phase(ops_per_s=3000.0), "low_load": phase()}
    assert [t["met"] for t in targets(phases)] == [True] * 6  # 250 / 1000 = 0.25
    phases["capacity"] = phase(ops_per_s=150.0, errors={"CapturePayment INTERNAL": 1})
    phases["low_load"] = phase(workers=[{"pid": 1, "cpu_ms_per_op": 1.0, "peak_rss_mib": None}])
    met = {t["target"]: t["met"] for t in targets(phases)}
    assert met == {
        "lifecycles/s at 32 clients": False,
        "lifecycles/s / (Health/Check/s / 3)": False,
        "p95 of a lifecycle at 32 clients, ms": True,
        "server CPU per lifecycle, ms": True,
        "peak RSS per worker, MiB": False,  # unreadable is not a pass
        "failed calls, any phase, warm-ups included": False,
    }


def test_the_table_shows_every_phase_warnings_and_the_targets() -> None:
    phases = {
        "capacity": phase(errors={"CapturePayment UNAVAILABLE": 2}, failed_lifecycles=2),
        "health": phase(
            kind="health", ops_per_s=3000.0, latency={"Health/Check": latency_summary([0.005])}
        ),
        "low_load": phase(clients=4, cpu_ms={"other_load": 30_000.0}),  # 1 CPU of 30 s
    }
    result = {
        "machine": {"cpus": 2, "loadavg_before": [0.1, 0.2, 0.3]},
        "server": {"command": ["payment-service", "serve", "--migrate"]},
        "load": {"processes": 4, "channels": 4},
        "phases": phases,
        "health_ratio": 0.25,
        "targets": targets(phases),
    }
    text = render(result)
    assert "errors in capacity: CapturePayment UNAVAILABLE: 2" in text
    assert "WARNING low load: other work on the machine used 1.00 CPUs" in text
    assert "WARNING capacity" not in text
    assert "    worker 1" in text
    assert text.count("FAIL") == 1  # the two failed calls
