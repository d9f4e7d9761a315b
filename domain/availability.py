"""Which payment methods this deployment can take: the routing table narrowed to what each
configured gateway declares it supports (`GatewayCapabilities`).

Pure computation over configuration, no I/O: it runs on every CreatePayment. A method type
that no configured gateway takes at all is refused with PAYMENT_METHOD_UNAVAILABLE, naming
what the deployment does take; a type some gateway takes, but not in this currency, country
or through any matching route, with NO_GATEWAY_AVAILABLE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.errors import NoGatewayAvailable, PaymentMethodUnavailable, ScaExemptionUnsupported
from domain.gateway import GatewayCapabilities
from domain.routing import RoutingTable


@dataclass(frozen=True, slots=True)
class AvailableMethod:
    type: PaymentMethodType
    gateway: GatewayName


class PaymentMethodOffer:
    """The routing table and the configured gateways' declarations, computed once."""

    def __init__(
        self, routes: RoutingTable, capabilities: Mapping[GatewayName, GatewayCapabilities]
    ) -> None:
        self._routes = routes
        self._capabilities = dict(capabilities)
        self.method_types = frozenset(
            support.method_type
            for gateway, declared in self._capabilities.items()
            for support in declared.methods
            if any(
                gateway in route.gateways
                and (not route.method_types or support.method_type in route.method_types)
                for route in routes.routes
            )
        )

    def _ordered_types(self) -> list[PaymentMethodType]:
        return [t for t in PaymentMethodType if t in self.method_types]

    def require_offered(self, method_type: PaymentMethodType) -> None:
        if method_type in self.method_types:
            return
        offered = ",".join(t.value for t in self._ordered_types())
        raise PaymentMethodUnavailable(
            f"no configured gateway takes {method_type.value}; this deployment takes "
            + (offered.replace(",", ", ") or "no payment method"),
            metadata={
                "payment_method_type": method_type.value,
                "available_payment_method_types": offered,
            },
        )

    def candidates(
        self,
        method_type: PaymentMethodType,
        currency: str,
        country: str,
        requested: GatewayName | None = None,
        amount_minor: int = 0,
        *,
        sca_exemption: ScaExemption | None = None,
    ) -> list[GatewayName]:
        """The gateways that would take this payment, in routing order (the first takes it,
        the others are its failover order). With an SCA exemption, only gateways that can
        request it count, before routing picks a route: a later route may still take it.
        Raises PaymentMethodUnavailable, NoGatewayAvailable, or ScaExemptionUnsupported
        (gateways would take the payment, but none of them can request the exemption)."""
        self.require_offered(method_type)
        able = [
            name
            for name, declared in self._capabilities.items()
            if declared.takes(method_type, currency, country, amount_minor)
        ]
        exempting = [
            name
            for name in able
            if sca_exemption is None or sca_exemption in self._capabilities[name].sca_exemptions
        ]
        try:
            return self._routes.candidates(
                method_type, currency, country, available=exempting, requested=requested
            )
        except NoGatewayAvailable:
            if sca_exemption is None:
                raise
            # Without the exemption some gateway would take it: say that it is the exemption.
            routed = self._routes.candidates(
                method_type, currency, country, available=able, requested=requested
            )
            raise ScaExemptionUnsupported(
                f"{', '.join(g.value for g in routed)} cannot request the "
                f"{sca_exemption.value} SCA exemption",
                metadata={
                    "gateway": routed[0].value,
                    "gateways": ",".join(g.value for g in routed),
                    "sca_exemption": sca_exemption.value,
                },
            ) from None

    def available(self, country: str, currency: str, amount_minor: int) -> list[AvailableMethod]:
        """Every (type, gateway) that would take a payment from `country` in `currency`."""
        found: list[AvailableMethod] = []
        for method_type in self._ordered_types():
            try:
                gateways = self.candidates(method_type, currency, country, None, amount_minor)
            except NoGatewayAvailable:
                continue
            found += [AvailableMethod(method_type, gateway) for gateway in gateways]
        return found
