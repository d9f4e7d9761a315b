"""Settings of the process model: how many worker processes serve, how many connections
they may hold in PostgreSQL between them, and the lease that picks the one process (across
every worker of every replica) that runs the singleton background jobs. `Settings`
(server/config.py) inherits them; server/db_budget.py and server/background.py use them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from server.settings_part import SettingsPart


class WorkerSettings(SettingsPart):
    # Worker processes of `serve` (`--workers` overrides). Unset: one per CPU this process may
    # run on, fewer if the connection budget cannot give each a pool. 1: no supervisor.
    server_workers: Annotated[int, Field(ge=1, le=256)] | None = None
    # The most connections this replica (all its workers) opens to PostgreSQL. Unset: the
    # database's max_connections, less its reserved connections, divided by DB_REPLICAS.
    db_max_connections: Annotated[int, Field(ge=1)] | None = None
    # How many replicas of the service share the database (they divide its connections).
    db_replicas: Annotated[int, Field(ge=1, le=10_000)] = 1

    # Replicas sharing this name elect one process at a time to run the singleton jobs
    # (relay, reconciler, retries, purges, retention). A holder that stops answering loses
    # the lease after BACKGROUND_LEASE_SECONDS; the others try for it every fifth of that.
    background_lease_name: Annotated[str, Field(min_length=1, max_length=200)] = "payment-service"
    background_lease_seconds: Annotated[float, Field(ge=1, le=600)] = 10.0
