"""Faults of the simulator gateway switched on and off from outside the process, for the
chaos suite (bench/chaos): a small JSON file that every service process sharing it reads,

    {"latency_ms": 300, "unavailable": 0.2, "timeout_before": 0.1, "timeout_after": 0.1}

latency added to every money-moving call, and the probability that a call is refused
(GatewayUnavailable: nothing done), times out before acting or times out after acting
(GatewayOutcomeUnknown either way). A missing or unreadable file means no fault. The file
is looked at (one stat) at most every `recheck` seconds, and read only when it changed.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path


class Fault(StrEnum):
    UNAVAILABLE = "UNAVAILABLE"  # refused before doing anything (connection refused, 503)
    TIMEOUT_BEFORE = "TIMEOUT_BEFORE"  # no answer, and nothing was done
    TIMEOUT_AFTER = "TIMEOUT_AFTER"  # no answer, but the operation was carried out


@dataclass(frozen=True, slots=True)
class FaultPlan:
    latency_ms: int = 0
    unavailable: float = 0.0
    timeout_before: float = 0.0
    timeout_after: float = 0.0

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        document = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in document.items() if k in known})

    def draw(self, rng: random.Random) -> Fault | None:
        roll = rng.random()
        for probability, fault in (
            (self.unavailable, Fault.UNAVAILABLE),
            (self.timeout_before, Fault.TIMEOUT_BEFORE),
            (self.timeout_after, Fault.TIMEOUT_AFTER),
        ):
            if roll < probability:
                return fault
            roll -= probability
        return None


NO_FAULTS = FaultPlan()


class FaultFile:
    def __init__(self, path: Path, *, recheck: float = 0.2, seed: int | None = None) -> None:
        self._path = path
        self._recheck = recheck
        self._checked_at = float("-inf")
        self._mtime: float | None = None
        self._plan = NO_FAULTS
        self.rng = random.Random(seed)  # noqa: S311 - fault simulation, not security

    def current(self) -> FaultPlan:
        now = time.monotonic()
        if now - self._checked_at >= self._recheck:
            self._checked_at = now
            self._reload()
        return self._plan

    def _reload(self) -> None:
        try:
            mtime = self._path.stat().st_mtime
            if mtime != self._mtime:
                self._plan, self._mtime = FaultPlan.parse(self._path.read_text()), mtime
        except (OSError, ValueError, TypeError):
            self._plan, self._mtime = NO_FAULTS, None
