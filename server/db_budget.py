"""How many worker processes, and how large each one's pool, so that every connection the
service may open fits in PostgreSQL's max_connections.

Per worker:   2 x DB_POOL_SIZE (the pool, and as many overflow connections)
            + 2 (the health check's engine: one connection and one overflow)
            + 1 (the background lease's session)
Per replica:  SERVER_WORKERS x per worker  <=  DB_MAX_CONNECTIONS, which defaults to
              (max_connections - superuser_reserved_connections - reserved_connections)
              / DB_REPLICAS, as the database reports them at start.

DB_POOL_SIZE left unset is at most 20, and smaller when that is what fits; SERVER_WORKERS left
unset is the CPU count, fewer when not even a pool of one per worker fits. What is set by
hand and does not fit is refused at start: past max_connections PostgreSQL turns connections
away at the busiest moment (SQLSTATE 53300), which callers would see as UNAVAILABLE. Only the
configuration is compared, not the connections open at the moment (those come and go).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from infra.db.engine import make_engine
from server.config import Settings
from server.transport import database_ssl

log = logging.getLogger("payments.budget")

# The health engine's two and the lease's one (see the module docstring).
FIXED_PER_WORKER = 3
DEFAULT_POOL_SIZE = 20
# PostgreSQL's defaults, assumed (with a warning) when the database cannot be asked.
ASSUMED_AVAILABLE = 100 - 3

_LIMITS = text(
    "SELECT name, setting::int FROM pg_settings WHERE name IN "
    "('max_connections', 'superuser_reserved_connections', 'reserved_connections')"
)


class BudgetError(ValueError):
    """The configuration asks for more connections than the database allows."""


def connections_per_worker(pool_size: int) -> int:
    return 2 * pool_size + FIXED_PER_WORKER


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    workers: int
    pool_size: int
    allowed: int  # this replica's share
    basis: str  # where `allowed` comes from, for the log line

    @property
    def total(self) -> int:
        return self.workers * connections_per_worker(self.pool_size)

    def describe(self) -> str:
        return (
            f"{self.workers} worker(s) x (2 x pool {self.pool_size} + {FIXED_PER_WORKER}) = "
            f"{self.total} connections of {self.allowed} allowed ({self.basis})"
        )


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus() -> int:
    """The CPUs this process may use: those it may run on (a container's cpuset), fewer when
    a CPU quota (cgroup v2 `cpu.max`, what Kubernetes' CPU limit sets) allows less."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota)) if quota is not None else cpus


def _cgroup_cpu_quota() -> int | None:
    try:
        limit, period = CGROUP_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    return math.ceil(int(limit) / int(period))


def plan(
    *,
    workers: int | None,
    pool_size: int | None,
    allowed: int,
    basis: str,
    cpus: int,
    strict: bool = True,
) -> ConnectionBudget:
    """`workers` and `pool_size` are None when not set by hand. `strict`: `allowed` was
    configured or reported by the database (else it is assumed, and only warned about)."""
    smallest = connections_per_worker(1)
    if workers is None:
        workers = max(1, min(cpus, allowed // smallest))
    if pool_size is None:
        pool_size = max(1, min(DEFAULT_POOL_SIZE, (allowed // workers - FIXED_PER_WORKER) // 2))
    budget = ConnectionBudget(workers, pool_size, allowed, basis)
    if budget.total > allowed:
        message = (
            f"the database connection budget is exceeded: {budget.describe()}. "
            "Lower SERVER_WORKERS or DB_POOL_SIZE, or raise max_connections "
            "(DB_MAX_CONNECTIONS and DB_REPLICAS say how it is shared)"
        )
        if strict:
            raise BudgetError(message)
        log.warning("%s; not checked against the database, which did not answer", message)
    return budget


async def database_allowance(settings: Settings, database_url: str) -> int | None:
    """max_connections less the reserved ones, or None when the database does not answer."""
    engine = make_engine(database_url, pool_size=1, ssl=database_ssl(settings))
    try:
        async with asyncio.timeout(10), engine.connect() as conn:
            limits = {name: int(value) for name, value in (await conn.execute(_LIMITS)).all()}
    except Exception as exc:  # down at start: the service starts anyway, NOT_SERVING
        log.warning("max_connections not read (%s)", type(exc).__name__)
        return None
    finally:
        await engine.dispose()
    reserved = limits.get("superuser_reserved_connections", 0)
    return limits["max_connections"] - reserved - limits.get("reserved_connections", 0)


def budget_for(
    settings: Settings, workers: int | None, database_available: int | None
) -> ConnectionBudget:
    """The budget of `serve`: `workers` from --workers (else SERVER_WORKERS, else the CPUs)."""
    workers = workers if workers is not None else settings.server_workers
    pool_size = settings.db_pool_size if "db_pool_size" in settings.model_fields_set else None
    replicas = settings.db_replicas
    if database_available is not None:
        share = database_available // replicas
        if settings.db_max_connections is not None and settings.db_max_connections > share:
            raise BudgetError(
                f"DB_MAX_CONNECTIONS={settings.db_max_connections} is more than this replica's "
                f"share of the database: {database_available} connections (max_connections "
                f"less reserved) / DB_REPLICAS {replicas} = {share}"
            )
    strict = True
    if settings.db_max_connections is not None:
        allowed, basis = settings.db_max_connections, "DB_MAX_CONNECTIONS"
    elif database_available is not None:
        allowed = database_available // replicas
        basis = f"max_connections less reserved, {database_available}, / DB_REPLICAS {replicas}"
    else:
        allowed, strict = ASSUMED_AVAILABLE // replicas, False
        basis = f"assumed PostgreSQL defaults, {ASSUMED_AVAILABLE}, / DB_REPLICAS {replicas}"
    return plan(
        workers=workers,
        pool_size=pool_size,
        allowed=allowed,
        basis=basis,
        cpus=available_cpus(),
        strict=strict,
    )
