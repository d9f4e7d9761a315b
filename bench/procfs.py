"""What the kernel says about processes (Linux /proc): CPU time, peak memory, who serves a port.

Everything is read, nothing is estimated: a value that cannot be read is None, and the report
says so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat that the benchmark uses."""

    pid: int
    comm: str
    ppid: int
    cpu_ticks: int  # utime + stime, every thread of the process
    children_ticks: int  # cutime + cstime: the children it has reaped (waited for)
    started: int  # starttime, in ticks after boot: tells a reused pid from the old process


Snapshot = dict[int, ProcStat]


def parse_stat(text: str) -> ProcStat:
    # comm is in parentheses and may itself hold spaces and parentheses: split at the last ')'.
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()  # fields[0] is field 3 (state) in proc(5)'s numbering
    return ProcStat(
        pid=int(pid),
        comm=comm,
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        children_ticks=int(fields[13]) + int(fields[14]),
        started=int(fields[19]),
    )


def snapshot() -> Snapshot:
    """Every process this user may read, now. Processes that exit meanwhile are skipped."""
    stats: Snapshot = {}
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = parse_stat((PROC / entry.name / "stat").read_text())
                stats[stat.pid] = stat
    return stats


def cpu_ms(before: Snapshot, after: Snapshot, pids: Iterable[int]) -> float:
    """CPU time the processes (pids of either snapshot) used between the snapshots.

    A process that started in between counts from zero. One that exited in between counts
    when its parent is among them: the kernel adds a reaped child's whole lifetime to its
    parent's cutime and cstime, so the part before the window is taken off (e.g. PostgreSQL
    backends of connections that a pool opens and closes, which the postmaster reaps).
    """
    chosen, ticks = set(pids), 0
    for pid in chosen:
        then, now = before.get(pid), after.get(pid)
        same = then is not None and now is not None and then.started == now.started
        if now is not None:
            ticks += now.cpu_ticks + now.children_ticks
        if then is not None and same:
            ticks -= then.cpu_ticks + then.children_ticks
        elif then is not None and then.ppid in chosen:  # exited, reaped by a chosen parent
            ticks -= then.cpu_ticks
    return ticks * 1000 / CLOCK_TICKS_PER_S


def named(stats: Snapshot, prefix: str) -> list[int]:
    return sorted(pid for pid, stat in stats.items() if stat.comm.startswith(prefix))


def descendants(stats: Snapshot, root: int) -> set[int]:
    """root and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def parse_vmhwm_kib(status: str) -> int | None:
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the most resident memory the process ever had (None once it is gone)."""
    try:
        kib = parse_vmhwm_kib((PROC / str(pid) / "status").read_text())
    except OSError:
        return None
    return None if kib is None else kib / 1024


def parse_listening_inodes(table: str, port: int) -> set[int]:
    """Socket inodes listening on `port` in a /proc/net/tcp or tcp6 table."""
    inodes = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if fields[3] == TCP_LISTEN and local_port == port:
            inodes.add(int(fields[9]))
    return inodes


def listening_inodes(port: int) -> set[int]:
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            inodes |= parse_listening_inodes((PROC / "net" / table).read_text(), port)
    return inodes


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.scandir(PROC / str(pid) / "fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def executable(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        return os.readlink(PROC / str(pid) / "exe")
    return None


@dataclass(frozen=True)
class ServerProcesses:
    """The server's process tree, sorted by role."""

    workers: list[int]  # hold a listening socket on the gRPC port (SO_REUSEPORT: one each)
    interpreter: list[int]  # every process of the tree running the server's Python (workers too)
    others: list[int]  # the rest of the tree: embedded Redis, Kafka broker


def server_processes(root: int, grpc_port: int, stats: Snapshot) -> ServerProcesses:
    """Workers are the server's processes that listen on the gRPC port: not every child is one
    (the embedded Redis and Kafka broker are children too). None found: the root serves."""
    tree = descendants(stats, root)
    listening = listening_inodes(grpc_port)
    workers = sorted(pid for pid in tree if socket_inodes(pid) & listening) or [root]
    python = executable(root)
    interpreter = sorted(pid for pid in tree if executable(pid) == python)
    return ServerProcesses(workers, interpreter, sorted(tree - set(interpreter)))


def parse_busy_ticks(stat: str) -> int:
    """Ticks all CPUs spent on anything but idle and iowait, from /proc/stat's "cpu" line."""
    values = [int(v) for v in stat.splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return sum(values[:8]) - values[3] - values[4]


def machine_busy_ticks() -> int:
    return parse_busy_ticks((PROC / "stat").read_text())
