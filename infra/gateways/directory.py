"""The configured gateways and the choice of one for a new payment."""

from __future__ import annotations

from collections.abc import Mapping

from domain.availability import AvailableMethod, PaymentMethodOffer
from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.errors import GatewayUnavailable
from domain.gateway import PaymentGateway
from domain.routing import RoutingTable


class RoutedGatewayDirectory:
    """The configured gateways, chosen for each payment by the routing table among those
    declaring they take it. The declarations are read once, here: choosing is then pure
    in-memory computation."""

    def __init__(self, gateways: Mapping[GatewayName, PaymentGateway], routes: RoutingTable):
        self._gateways = dict(gateways)
        self._offer = PaymentMethodOffer(
            routes, {name: gateway.capabilities for name, gateway in self._gateways.items()}
        )

    def get(self, name: GatewayName) -> PaymentGateway:
        gateway = self._gateways.get(name)
        if gateway is None:
            raise GatewayUnavailable(
                f"gateway {name.value} is not configured", metadata={"gateway": name.value}
            )
        return gateway

    def candidates(
        self,
        method_type: PaymentMethodType,
        currency: str,
        country: str,
        requested: GatewayName | None,
        amount_minor: int = 0,
        *,
        sca_exemption: ScaExemption | None = None,
    ) -> list[GatewayName]:
        return self._offer.candidates(
            method_type, currency, country, requested, amount_minor, sca_exemption=sca_exemption
        )

    def available(self, country: str, currency: str, amount_minor: int) -> list[AvailableMethod]:
        return self._offer.available(country, currency, amount_minor)
