"""The simulator's faults from a file (the chaos suite switches them while services run)."""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest

from domain.enums import TransactionType
from domain.errors import GatewayOutcomeUnknown, GatewayUnavailable
from domain.gateway import GatewayOperationRequest, LookupRequest
from domain.money import Money
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_faults import NO_FAULTS, Fault, FaultFile, FaultPlan


def test_a_plan_draws_each_fault_with_its_probability() -> None:
    plan = FaultPlan(unavailable=0.2, timeout_before=0.1, timeout_after=0.1)
    rng = random.Random(7)
    drawn = Counter(plan.draw(rng) for _ in range(10_000))
    assert 1_800 < drawn[Fault.UNAVAILABLE] < 2_200
    assert 800 < drawn[Fault.TIMEOUT_BEFORE] < 1_200
    assert 800 < drawn[Fault.TIMEOUT_AFTER] < 1_200
    assert NO_FAULTS.draw(rng) is None


def test_the_file_is_followed_and_a_missing_or_broken_one_means_no_fault(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    source = FaultFile(path, recheck=0)
    assert source.current() == NO_FAULTS
    path.write_text('{"latency_ms": 5, "unavailable": 1.0, "unknown_key": 1}')
    assert source.current() == FaultPlan(latency_ms=5, unavailable=1.0)
    path.write_text("{not json")
    os.utime(path, (1, 1))  # another mtime, whatever the clock's resolution
    assert source.current() == NO_FAULTS


async def test_the_simulator_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    gateway = SimulatorGateway(fault_file=FaultFile(path, recheck=0))
    request = GatewayOperationRequest("k-1", "pi_missing", Money(100, "EUR"))
    path.write_text('{"unavailable": 1.0}')
    with pytest.raises(GatewayUnavailable):
        await gateway.capture(request)
    path.write_text('{"timeout_after": 1.0}')
    os.utime(path, (2, 2))
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.capture(request)
    path.unlink()
    assert (await gateway.capture(request)).failure_code == "INVALID_GATEWAY_STATE"


class _UnreachableBooks:
    """A ledger whose database went away (PostgreSQL restarted mid-call)."""

    def book(self) -> _UnreachableBooks:
        return self

    async def __aenter__(self) -> None:
        raise ConnectionResetError("connection was closed in the middle of operation")

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_unreachable_books_are_an_unknown_outcome_not_a_crash() -> None:
    gateway = SimulatorGateway(ledger=_UnreachableBooks())  # type: ignore[arg-type]
    request = GatewayOperationRequest("k-2", "pi_1", Money(100, "EUR"))
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.capture(request)
    with pytest.raises(GatewayUnavailable):  # the reconciler asks again later
        await gateway.lookup(
            LookupRequest("k-2", TransactionType.CAPTURE, "pi_1", Money(100, "EUR"))
        )
