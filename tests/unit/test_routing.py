"""The routing table: first matching route with a configured gateway decides."""

from __future__ import annotations

import pytest

from domain.enums import GatewayName as G
from domain.enums import PaymentMethodType as M
from domain.errors import NoGatewayAvailable
from domain.routing import Route, RoutingTable
from server.routing_config import parse_routes

TABLE = RoutingTable(
    (
        Route((G.PAYPAL,), method_types=frozenset({M.PAYPAL})),
        Route(
            (G.STRIPE, G.SIMULATOR),
            method_types=frozenset({M.CREDIT_CARD, M.DEBIT_CARD}),
            currencies=frozenset({"EUR", "GBP"}),
        ),
        Route((G.SIMULATOR,), method_types=frozenset({M.CREDIT_CARD}), countries=frozenset({"US"})),
    )
)
ALL = {G.PAYPAL, G.STRIPE, G.SIMULATOR}


@pytest.mark.parametrize(
    ("method", "currency", "country", "available", "expected"),
    [
        (M.PAYPAL, "USD", "", ALL, [G.PAYPAL]),
        (M.CREDIT_CARD, "EUR", "DE", ALL, [G.STRIPE, G.SIMULATOR]),
        (M.CREDIT_CARD, "EUR", "DE", {G.SIMULATOR}, [G.SIMULATOR]),  # Stripe not configured
        (M.CREDIT_CARD, "USD", "US", ALL, [G.SIMULATOR]),
        (M.DEBIT_CARD, "", "", ALL, [G.STRIPE, G.SIMULATOR]),  # currency not known yet
    ],
)
def test_candidates(
    method: M, currency: str, country: str, available: set[G], expected: list[G]
) -> None:
    assert TABLE.candidates(method, currency, country, available=available) == expected


@pytest.mark.parametrize(
    ("method", "currency", "country"),
    [(M.CRYPTO, "EUR", "DE"), (M.CREDIT_CARD, "USD", "DE"), (M.CREDIT_CARD, "USD", "")],
)
def test_unroutable_payments_are_refused(method: M, currency: str, country: str) -> None:
    with pytest.raises(NoGatewayAvailable) as refused:
        TABLE.candidates(method, currency, country, available=ALL)
    assert refused.value.reason == "NO_GATEWAY_AVAILABLE"
    assert refused.value.metadata["payment_method_type"] == method.value


def test_a_pinned_gateway_must_be_eligible() -> None:
    assert TABLE.candidates(M.CREDIT_CARD, "EUR", "", available=ALL, requested=G.SIMULATOR) == [
        G.SIMULATOR
    ]
    with pytest.raises(NoGatewayAvailable):
        TABLE.candidates(M.CREDIT_CARD, "EUR", "", available=ALL, requested=G.PAYPAL)


def test_the_configuration_format() -> None:
    table = parse_routes(
        '[{"method_types": ["paypal"], "gateways": ["PAYPAL"]},'
        ' {"currencies": ["EUR"], "countries": ["DE"], "gateways": ["STRIPE", "SIMULATOR"]}]'
    )
    assert table.routes[0] == Route((G.PAYPAL,), method_types=frozenset({M.PAYPAL}))
    assert table.routes[1].countries == frozenset({"DE"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "non-empty JSON list"),
        ("[{}]", "at least one gateway"),
        ('[{"gateways": ["ADYEN"]}]', "ADYEN"),
        ('[{"gateways": ["STRIPE"], "currency": ["EUR"]}]', "unknown fields"),
        ('[{"gateways": ["STRIPE"], "countries": ["DEU"]}]', "alpha-2"),
        ("[", "not JSON"),
    ],
)
def test_bad_tables_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_routes(text)
