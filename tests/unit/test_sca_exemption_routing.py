"""SCA exemptions in routing: only gateways that can request the exemption take the payment,
and a payment no such gateway takes is refused naming the gateways that cannot."""

from __future__ import annotations

import pytest

from domain.availability import PaymentMethodOffer
from domain.enums import GatewayName as G
from domain.enums import PaymentMethodType as M
from domain.enums import ScaExemption as X
from domain.errors import NoGatewayAvailable, ScaExemptionUnsupported
from domain.gateway import GatewayCapabilities, MethodSupport
from domain.routing import Route, RoutingTable

CARDS = (MethodSupport(M.CREDIT_CARD), MethodSupport(M.DEBIT_CARD))
DECLARED = {
    G.STRIPE: GatewayCapabilities(CARDS, sca_exemptions=frozenset({X.MERCHANT_INITIATED})),
    G.SIMULATOR: GatewayCapabilities(CARDS, sca_exemptions=frozenset(X)),
    G.PAYPAL: GatewayCapabilities((MethodSupport(M.PAYPAL),)),
}
OFFER = PaymentMethodOffer(
    RoutingTable(
        (
            Route((G.PAYPAL,), method_types=frozenset({M.PAYPAL})),
            Route((G.STRIPE,), countries=frozenset({"DE"})),
            Route((G.STRIPE, G.SIMULATOR)),
        )
    ),
    DECLARED,
)


def test_without_an_exemption_routing_is_unchanged() -> None:
    assert OFFER.candidates(M.CREDIT_CARD, "EUR", "FR") == [G.STRIPE, G.SIMULATOR]


def test_failover_order_keeps_only_gateways_that_send_the_exemption() -> None:
    assert OFFER.candidates(M.CREDIT_CARD, "EUR", "FR", sca_exemption=X.LOW_VALUE) == [G.SIMULATOR]
    assert OFFER.candidates(M.CREDIT_CARD, "EUR", "FR", sca_exemption=X.MERCHANT_INITIATED) == [
        G.STRIPE,
        G.SIMULATOR,
    ]


def test_a_later_route_takes_it_when_the_first_cannot_send_the_exemption() -> None:
    # DE goes to Stripe alone; Stripe cannot ask for TRA: the catch-all route's simulator can.
    assert OFFER.candidates(
        M.CREDIT_CARD, "EUR", "DE", sca_exemption=X.TRANSACTION_RISK_ANALYSIS
    ) == [G.SIMULATOR]


def test_refused_naming_the_gateways_that_cannot_send_it() -> None:
    with pytest.raises(ScaExemptionUnsupported) as refused:
        OFFER.candidates(M.CREDIT_CARD, "EUR", "FR", G.STRIPE, sca_exemption=X.LOW_VALUE)
    assert refused.value.reason == "SCA_EXEMPTION_UNSUPPORTED"
    assert refused.value.metadata == {
        "gateway": "STRIPE", "gateways": "STRIPE", "sca_exemption": "LOW_VALUE",
    }  # fmt: skip
    assert "STRIPE" in str(refused.value)
    with pytest.raises(ScaExemptionUnsupported) as refused:
        OFFER.candidates(M.PAYPAL, "EUR", "", sca_exemption=X.MERCHANT_INITIATED)
    assert refused.value.metadata["gateway"] == "PAYPAL"


def test_unroutable_stays_no_gateway_available_with_an_exemption() -> None:
    with pytest.raises(NoGatewayAvailable):
        OFFER.candidates(M.PAYPAL, "EUR", "", G.STRIPE, sca_exemption=X.LOW_VALUE)
