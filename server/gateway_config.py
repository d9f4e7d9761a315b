"""Settings of the gateway calls: which gateway a payment goes to (routing), how long a call
may take, when a failing gateway is skipped (circuit breaker), how soft failures are retried,
when operations of unknown outcome are settled, and the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from domain.enums import GatewayName
from domain.routing import RoutingTable
from server.routing_config import load_routes
from server.settings_part import SettingsPart


class GatewaySettings(SettingsPart):
    default_gateway: GatewayName = GatewayName.SIMULATOR
    # The routing table as JSON, or a file holding it (see server/routing_config.py);
    # neither: every payment goes to DEFAULT_GATEWAY.
    gateway_routes: str | None = None
    gateway_routes_file: Path | None = None

    # Circuit breaker per gateway: this many failures within the window open it for a while.
    circuit_failure_threshold: Annotated[int, Field(ge=1)] = 5
    circuit_window_seconds: Annotated[float, Field(gt=0)] = 30.0
    circuit_open_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Automatic retries of soft failures (unreachable gateway, processing errors), with
    # exponential backoff and jitter, from a schedule kept in PostgreSQL. 0 disables them.
    retry_max_attempts: Annotated[int, Field(ge=0, le=20)] = 3
    retry_base_seconds: Annotated[float, Field(gt=0)] = 2.0
    retry_max_delay_seconds: Annotated[float, Field(gt=0)] = 300.0
    retry_poll_interval_seconds: Annotated[float, Field(gt=0)] = 1.0

    # A gateway call that takes longer has an unknown outcome; the reconciler settles it.
    gateway_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    # Open gateway operations older than this are settled by asking the gateway.
    reconcile_after_seconds: Annotated[float, Field(gt=0)] = 60.0
    reconcile_interval_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Development aid: how long each simulator gateway call takes.
    simulator_latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    # Where the simulator keeps its ledger: `memory`, or `database` (its own schema, so that
    # what it "charged" survives a crash of this process, as a real gateway's records would).
    simulator_ledger: Literal["memory", "database"] = "memory"
    # Chaos testing: a JSON file of simulator faults (latency, refusals, timeouts) that the
    # simulator follows while it exists (infra/gateways/simulator_faults.py).
    simulator_faults_file: Path | None = None

    @field_validator("default_gateway", mode="before")
    @classmethod
    def _gateway_upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def problems(self) -> list[str]:
        problems = []
        # An operation younger than the gateway timeout may still be in flight: settling it
        # as "never reached the gateway" could contradict what the gateway is about to do.
        if self.reconcile_after_seconds <= self.gateway_timeout_seconds:
            problems.append("RECONCILE_AFTER_SECONDS must be greater than GATEWAY_TIMEOUT_SECONDS")
        try:
            self.routing_table()
        except (ValueError, OSError) as exc:
            problems.append(f"GATEWAY_ROUTES: {exc}")
        return problems

    def routing_table(self) -> RoutingTable:
        return load_routes(self.gateway_routes, self.gateway_routes_file, self.default_gateway)
