"""Which gateway takes a payment: a declarative, ordered routing table.

The first route whose conditions match (payment method type, currency, country; an empty
condition matches anything) and that names at least one configured gateway decides; its
gateways, in order, are the candidates: the first takes the payment, the next ones are the
failover order. A payment may be pinned to a gateway only if some matching route names it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from domain.enums import GatewayName, PaymentMethodType
from domain.errors import NoGatewayAvailable


@dataclass(frozen=True, slots=True)
class Route:
    gateways: tuple[GatewayName, ...]
    method_types: frozenset[PaymentMethodType] = frozenset()
    currencies: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    def matches(self, method_type: PaymentMethodType, currency: str, country: str) -> bool:
        """An empty currency means "not known yet" (saving a method) and matches any; an
        unknown country matches only routes without a country condition."""
        return (
            (not self.method_types or method_type in self.method_types)
            and (not self.currencies or not currency or currency in self.currencies)
            and (not self.countries or country in self.countries)
        )


@dataclass(frozen=True, slots=True)
class RoutingTable:
    routes: tuple[Route, ...]

    @classmethod
    def everything_to(cls, gateway: GatewayName) -> RoutingTable:
        return cls((Route((gateway,)),))

    def candidates(
        self,
        method_type: PaymentMethodType,
        currency: str,
        country: str,
        *,
        available: Collection[GatewayName],
        requested: GatewayName | None = None,
    ) -> list[GatewayName]:
        eligible: list[GatewayName] = []
        for route in self.routes:
            if route.matches(method_type, currency, country):
                usable = [g for g in route.gateways if g in available and g not in eligible]
                if requested is None and usable:
                    return usable
                eligible += usable
        if requested is not None and requested in eligible:
            return [requested]
        raise NoGatewayAvailable(
            f"no configured gateway takes {method_type.value} in {currency or 'any currency'}"
            + (f" from {country}" if country else ""),
            metadata={
                "payment_method_type": method_type.value,
                "currency": currency,
                "country": country,
                **({"requested_gateway": requested.value} if requested else {}),
            },
        )
