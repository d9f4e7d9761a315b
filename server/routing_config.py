"""The routing table from configuration: GATEWAY_ROUTES (JSON) or GATEWAY_ROUTES_FILE.

    [
      {"method_types": ["PAYPAL"], "gateways": ["PAYPAL"]},
      {"method_types": ["CREDIT_CARD", "DEBIT_CARD"], "currencies": ["EUR", "GBP"],
       "gateways": ["STRIPE", "SIMULATOR"]},
      {"gateways": ["SIMULATOR"]}
    ]

Routes are tried in order; conditions left out match anything; `gateways` is the ordered
choice (the first takes the payment, the others are its failover order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from domain.enums import GatewayName, PaymentMethodType
from domain.money import CURRENCY_CODE
from domain.routing import Route, RoutingTable
from domain.validation import COUNTRY

FIELDS = {"gateways", "method_types", "currencies", "countries"}


def _names(route: dict[str, Any], field: str, index: int) -> list[str]:
    value = route.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"route {index}: {field} must be a list of strings")
    return [v.upper() for v in value]


def _route(route: Any, index: int) -> Route:
    if not isinstance(route, dict):
        raise ValueError(f"route {index}: must be an object")
    if unknown := set(route) - FIELDS:
        raise ValueError(f"route {index}: unknown fields {sorted(unknown)}")
    try:
        gateways = tuple(GatewayName(g) for g in _names(route, "gateways", index))
        method_types = frozenset(PaymentMethodType(m) for m in _names(route, "method_types", index))
    except ValueError as exc:
        raise ValueError(f"route {index}: {exc}") from None
    if not gateways:
        raise ValueError(f"route {index}: gateways must name at least one gateway")
    currencies = _names(route, "currencies", index)
    countries = _names(route, "countries", index)
    if bad := [c for c in currencies if not CURRENCY_CODE.match(c)]:
        raise ValueError(f"route {index}: not ISO 4217 currencies: {bad}")
    if bad := [c for c in countries if not COUNTRY.match(c)]:
        raise ValueError(f"route {index}: not ISO 3166-1 alpha-2 countries: {bad}")
    return Route(gateways, method_types, frozenset(currencies), frozenset(countries))


def parse_routes(text: str) -> RoutingTable:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(document, list) or not document:
        raise ValueError("must be a non-empty JSON list of routes")
    return RoutingTable(tuple(_route(route, i) for i, route in enumerate(document)))


def load_routes(
    routes_json: str | None, routes_file: Path | None, default: GatewayName
) -> RoutingTable:
    if routes_json and routes_file:
        raise ValueError("set GATEWAY_ROUTES or GATEWAY_ROUTES_FILE, not both")
    if routes_file is not None:
        return parse_routes(routes_file.read_text())
    if routes_json:
        return parse_routes(routes_json)
    return RoutingTable.everything_to(default)
