"""The configured gateways and the choice of one for a new payment."""

from __future__ import annotations

from collections.abc import Mapping

from domain.enums import GatewayName, PaymentMethodType
from domain.errors import GatewayUnavailable
from domain.gateway import PaymentGateway


class StaticGatewayDirectory:
    """Gateways by name, with a default. Routing by region and currency comes with the real
    gateway adapters; until then every payment goes to the requested or default gateway."""

    def __init__(self, gateways: Mapping[GatewayName, PaymentGateway], default: GatewayName):
        if default not in gateways:
            raise ValueError(f"default gateway {default.value} is not configured")
        self._gateways = dict(gateways)
        self._default = default

    def get(self, name: GatewayName) -> PaymentGateway:
        gateway = self._gateways.get(name)
        if gateway is None:
            raise GatewayUnavailable(
                f"gateway {name.value} is not configured", metadata={"gateway": name.value}
            )
        return gateway

    def choose(
        self, method_type: PaymentMethodType, currency: str, requested: GatewayName | None
    ) -> GatewayName:
        if requested is not None:
            self.get(requested)
            return requested
        return self._default
