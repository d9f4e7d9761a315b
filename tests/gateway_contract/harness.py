"""What the gateway contract needs from an adapter's test setup.

Each adapter has a module `<name>_harness.py` here with a fixture `<name>_harness` that yields
an object of this shape, and its name in ADAPTERS in conftest.py.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from domain.enums import PaymentMethodType
from domain.gateway import GatewayOutcome, PaymentGateway

# success: authorizes; declined: a generic decline (CARD_DECLINED); insufficient_funds:
# INSUFFICIENT_FUNDS; requires_action: the customer must pass 3-D Secure / approve first.
TokenKind = Literal["success", "declined", "insufficient_funds", "requires_action"]


class GatewayHarness(Protocol):
    @property
    def gateway(self) -> PaymentGateway: ...

    @property
    def currency(self) -> str:
        """An ISO 4217 code the gateway takes in the contract's amounts (minor units)."""

    @property
    def method_type(self) -> PaymentMethodType: ...

    @property
    def replays_repeated_keys(self) -> bool:
        """Whether the gateway answers a request repeated under the same idempotency key with
        the first answer, without acting again (Stripe, PayPal, the simulator do; localstripe
        ignores the key)."""

    async def token(self, kind: TokenKind) -> str:
        """A fresh payment method token that behaves as `kind` says."""

    async def complete_action(self, outcome: GatewayOutcome) -> None:
        """The customer passes the next action of a REQUIRES_ACTION outcome."""

    async def exemption_received(self, outcome: GatewayOutcome) -> dict[str, Any] | None:
        """What the gateway received for the SCA exemption of this authorization, read back
        from the gateway (or its wire), in its own terms; None: nothing."""

    def idempotency_keys_sent(self) -> list[str]:
        """The idempotency keys the adapter sent on the wire with money-moving requests, in
        order: what the contract checks where the gateway does not replay."""
