"""The ports a use case runs with, bundled so signatures stay short."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from domain.actor import SYSTEM, Actor
from domain.errors import FieldViolation, ValidationFailed
from domain.fx import FxPolicy
from domain.ports import (
    CircuitBreaker,
    Clock,
    CurrencyCatalog,
    GatewayDirectory,
    IdGenerator,
    NoCircuitBreaker,
    UnitOfWork,
)
from domain.retry import RetryPolicy
from domain.risk import RiskAssessor


@dataclass(frozen=True, slots=True)
class Deps:
    uow: UnitOfWork
    gateways: GatewayDirectory
    clock: Clock
    ids: IdGenerator
    currencies: CurrencyCatalog
    # A gateway call still unanswered after this long has an unknown outcome.
    gateway_timeout: float = 30.0
    breaker: CircuitBreaker = field(default_factory=NoCircuitBreaker)
    # Automatic retries of soft failures; none unless configured.
    retry_policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=0))
    rng: random.Random = field(default_factory=random.Random)
    # The fraud check before every authorization; None runs none.
    risk: RiskAssessor | None = None
    # Maximum rate age, quote lifetime and markup of conversions.
    fx: FxPolicy = field(default_factory=FxPolicy)
    # Who acts: the unit of work was built for the same actor (access rules, audit trail).
    actor: Actor = SYSTEM


class Command(Protocol):
    def violations(self) -> list[FieldViolation]: ...


def validate(command: Command) -> None:
    violations = command.violations()
    if violations:
        raise ValidationFailed(violations)
