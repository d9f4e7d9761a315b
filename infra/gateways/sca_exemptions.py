"""SCA exemptions (PSD2) in each gateway's own terms, or refused: never dropped.

Stripe (docs.stripe.com/payments/3d-secure, /payments/save-and-reuse): a merchant asks for
exactly one thing, that the customer is not present — `off_session: true` on a confirmed
PaymentIntent charging a saved PaymentMethod of a Customer — and leaves 3-D Secure to Stripe
with `payment_method_options.card.request_three_d_secure: automatic` (`any`/`challenge`
would ask the issuer for a challenge, the opposite of an exemption). Low-value and
transaction-risk-analysis exemptions are Stripe's own decision on every payment: there is no
parameter to request them, so they are refused.

PayPal (developer.paypal.com/api/orders/v2): this adapter takes PayPal wallets, where the buyer
authenticates at PayPal (PayPal handles 3-D Secure for wallet payments). A saved wallet
charged without the buyer is a merchant-initiated payment, said with
`payment_source.paypal.stored_credential` (`payment_initiator: MERCHANT`, `usage:
SUBSEQUENT`). The card verification method (`attributes.verification.method`:
`SCA_WHEN_REQUIRED`, the default, or `SCA_ALWAYS`) exists only for card payment sources, and
neither value requests a particular exemption: low-value and risk-analysis are refused.
"""

from __future__ import annotations

from typing import Any

from domain.enums import GatewayName, ScaExemption
from domain.gateway import AuthorizationRequest, GatewayOutcome

REFUSED = "SCA_EXEMPTION_UNSUPPORTED"
STRIPE_EXEMPTIONS = frozenset({ScaExemption.MERCHANT_INITIATED})
PAYPAL_EXEMPTIONS = frozenset({ScaExemption.MERCHANT_INITIATED})

STRIPE_SENT = "off_session=true; payment_method_options.card.request_three_d_secure=automatic"
PAYPAL_SENT = "payment_source.paypal.stored_credential.payment_initiator=MERCHANT"
# Stripe returns no off_session on the PaymentIntent: our metadata keeps what was sent.
STRIPE_METADATA = "sca_exemption_sent"


def refused(gateway: GatewayName, exemption: ScaExemption, why: str) -> GatewayOutcome:
    """The adapter's own refusal, should routing ever let such a request through: the
    payment fails with a reason instead of going out without its exemption."""
    return GatewayOutcome.declined(
        REFUSED, f"{gateway.value} cannot request the {exemption.value} exemption: {why}"
    )


def stripe_params(request: AuthorizationRequest) -> dict[str, Any] | GatewayOutcome:
    """The PaymentIntent parameters that carry the request's exemption (none: empty), or the
    refusal."""
    exemption = request.sca_exemption
    if exemption is None:
        return {}
    if exemption not in STRIPE_EXEMPTIONS:
        return refused(GatewayName.STRIPE, exemption, "Stripe applies it on its own")
    if not request.payment_method_type.is_card or not request.customer_reference:
        why = "off_session charges a card saved to a Customer"
        return refused(GatewayName.STRIPE, exemption, why)
    return {
        "off_session": True,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
    }


def paypal_stored_credential(
    request: AuthorizationRequest, *, saved_wallet: bool
) -> dict[str, str] | GatewayOutcome | None:
    """`payment_source.paypal.stored_credential` for the request's exemption (None: no
    exemption), or the refusal."""
    exemption = request.sca_exemption
    if exemption is None:
        return None
    if exemption not in PAYPAL_EXEMPTIONS:
        why = "PayPal has no field that requests it"
        return refused(GatewayName.PAYPAL, exemption, why)
    if not saved_wallet:
        why = "the buyer approves a one-time checkout, so the merchant did not initiate it"
        return refused(GatewayName.PAYPAL, exemption, why)
    return {"payment_initiator": "MERCHANT", "usage": "SUBSEQUENT"}
