"""The simulator in the gateway contract: the reference every other adapter is held to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from domain.enums import PaymentMethodType
from domain.gateway import GatewayOutcome
from infra.gateways.simulator import SimulatorGateway
from tests.gateway_contract.harness import TokenKind

TOKENS: dict[TokenKind, str] = {
    "success": "pm_card_visa",
    "declined": "pm_card_chargeDeclined",
    "insufficient_funds": "pm_card_chargeDeclinedInsufficientFunds",
    "requires_action": "pm_card_authenticationRequired",
}


@dataclass
class SimulatorHarness:
    gateway: SimulatorGateway
    currency: str = "EUR"
    method_type: PaymentMethodType = PaymentMethodType.CREDIT_CARD
    replays_repeated_keys: bool = True

    async def token(self, kind: TokenKind) -> str:
        return TOKENS[kind]

    async def complete_action(self, outcome: GatewayOutcome) -> None:
        """The simulated customer passes 3-D Secure unless told to fail it."""

    async def exemption_received(self, outcome: GatewayOutcome) -> dict[str, Any] | None:
        """In process: what the simulated gateway answered it received."""
        sent = outcome.sca_exemption_sent
        return None if sent is None else {"sca_exemption": sent.partition("=")[2]}

    def idempotency_keys_sent(self) -> list[str]:
        return []  # in process, no wire: the simulator replays repeated keys itself


@pytest.fixture
def simulator_harness() -> SimulatorHarness:
    return SimulatorHarness(SimulatorGateway())
