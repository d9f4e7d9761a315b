"""What a deployment offers: the routing table narrowed to what each gateway declares."""

from __future__ import annotations

import pytest

from domain.availability import AvailableMethod, PaymentMethodOffer
from domain.enums import GatewayName as G
from domain.enums import PaymentMethodType as M
from domain.errors import NoGatewayAvailable, PaymentMethodUnavailable
from domain.gateway import GatewayCapabilities, MethodSupport
from domain.routing import Route, RoutingTable

CARDS = (MethodSupport(M.CREDIT_CARD), MethodSupport(M.DEBIT_CARD))
DECLARED = {
    G.STRIPE: GatewayCapabilities(
        (
            *CARDS,
            MethodSupport(M.BANK_TRANSFER, frozenset({"EUR", "GBP"}), minimum_minor=(("EUR", 50),)),
        )
    ),
    G.PAYPAL: GatewayCapabilities((MethodSupport(M.PAYPAL, frozenset({"EUR", "USD"})),)),
    G.SIMULATOR: GatewayCapabilities(CARDS),
}
ROUTES = RoutingTable(
    (
        Route((G.PAYPAL,), method_types=frozenset({M.PAYPAL})),
        Route((G.STRIPE,), method_types=frozenset({M.BANK_TRANSFER}), countries=frozenset({"DE"})),
        Route((G.STRIPE, G.SIMULATOR)),
    )
)
OFFER = PaymentMethodOffer(ROUTES, DECLARED)


def test_the_offer_follows_routes_and_declarations() -> None:
    assert OFFER.available("DE", "EUR", 10_000) == [
        AvailableMethod(M.CREDIT_CARD, G.STRIPE),
        AvailableMethod(M.CREDIT_CARD, G.SIMULATOR),
        AvailableMethod(M.DEBIT_CARD, G.STRIPE),
        AvailableMethod(M.DEBIT_CARD, G.SIMULATOR),
        AvailableMethod(M.PAYPAL, G.PAYPAL),
        AvailableMethod(M.BANK_TRANSFER, G.STRIPE),
    ]


@pytest.mark.parametrize(
    ("country", "currency", "amount", "missing"),
    [
        ("DE", "CHF", 10_000, {M.PAYPAL, M.BANK_TRANSFER}),  # neither takes francs
        ("DE", "EUR", 49, {M.BANK_TRANSFER}),  # below the minimum
        # No bank-transfer route from France, but the general route names Stripe, which
        # takes EUR transfers: the first matching route with a gateway taking it decides.
        ("FR", "EUR", 10_000, set()),
        ("FR", "USD", 0, {M.BANK_TRANSFER}),  # Stripe declares EUR and GBP transfers only
    ],
)
def test_what_is_not_offered(country: str, currency: str, amount: int, missing: set[M]) -> None:
    offered = {m.type for m in OFFER.available(country, currency, amount)}
    assert offered == {M.CREDIT_CARD, M.DEBIT_CARD, M.PAYPAL, M.BANK_TRANSFER} - missing


def test_a_type_no_gateway_takes_is_unavailable_naming_what_is_taken() -> None:
    with pytest.raises(PaymentMethodUnavailable) as refused:
        OFFER.candidates(M.CRYPTO, "EUR", "DE")
    error = refused.value
    assert (error.reason, error.kind.value) == ("PAYMENT_METHOD_UNAVAILABLE", "FAILED_PRECONDITION")
    assert error.metadata == {
        "payment_method_type": "CRYPTO",
        "available_payment_method_types": "CREDIT_CARD,DEBIT_CARD,PAYPAL,BANK_TRANSFER",
    }
    assert "CREDIT_CARD, DEBIT_CARD, PAYPAL, BANK_TRANSFER" in error.message


def test_a_declared_type_no_route_reaches_is_unavailable() -> None:
    # The simulator takes cards, but the only route sends everything to PayPal.
    offer = PaymentMethodOffer(RoutingTable((Route((G.PAYPAL,)),)), DECLARED)
    with pytest.raises(PaymentMethodUnavailable):
        offer.candidates(M.CREDIT_CARD, "EUR", "")
    assert offer.method_types == {M.PAYPAL}


def test_a_taken_type_out_of_its_currency_has_no_gateway() -> None:
    with pytest.raises(NoGatewayAvailable):
        OFFER.candidates(M.PAYPAL, "CHF", "")
    with pytest.raises(NoGatewayAvailable):
        OFFER.candidates(M.BANK_TRANSFER, "EUR", "DE", amount_minor=10)


def test_a_gateway_is_a_candidate_only_for_what_it_takes() -> None:
    # The general route lists Stripe then the simulator; only Stripe takes bank transfers.
    assert OFFER.candidates(M.CREDIT_CARD, "EUR", "FR") == [G.STRIPE, G.SIMULATOR]
    assert OFFER.candidates(M.BANK_TRANSFER, "GBP", "FR") == [G.STRIPE]
    with pytest.raises(NoGatewayAvailable):
        OFFER.candidates(M.BANK_TRANSFER, "GBP", "FR", requested=G.SIMULATOR)


def test_an_unknown_amount_or_place_matches_any_declaration() -> None:
    support = MethodSupport(M.BANK_TRANSFER, frozenset({"EUR"}), frozenset({"DE"}), (("EUR", 50),))
    assert support.takes(M.BANK_TRANSFER, "EUR", "", 0)
    assert support.takes(M.BANK_TRANSFER, "", "DE", 0)
    assert not support.takes(M.BANK_TRANSFER, "EUR", "FR", 100)
    assert not support.takes(M.CREDIT_CARD, "EUR", "DE", 100)
