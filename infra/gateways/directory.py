"""The configured gateways and the choice of one for a new payment."""

from __future__ import annotations

from collections.abc import Mapping

from domain.enums import GatewayName, PaymentMethodType
from domain.errors import GatewayUnavailable
from domain.gateway import PaymentGateway
from domain.routing import RoutingTable


class RoutedGatewayDirectory:
    """The configured gateways, chosen for each payment by the routing table."""

    def __init__(self, gateways: Mapping[GatewayName, PaymentGateway], routes: RoutingTable):
        self._gateways = dict(gateways)
        self._routes = routes

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
    ) -> list[GatewayName]:
        return self._routes.candidates(
            method_type, currency, country, available=self._gateways, requested=requested
        )
