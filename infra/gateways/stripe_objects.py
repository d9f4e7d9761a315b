"""Reading Stripe objects as the SDK returns them (expanded or not, fields absent)."""

from __future__ import annotations

from typing import Any

import stripe

from domain.gateway import GatewayOutcome


def expanded_id(field: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    return field if isinstance(field, str) or field is None else str(field.id)


def metadata_of(obj: Any) -> dict[str, str]:
    found = getattr(obj, "metadata", None)
    return dict(found.to_dict()) if found is not None else {}


def liability_shift(intent: stripe.PaymentIntent) -> bool | None:
    """Whether 3-D Secure shifted liability, from the charge's card details when known."""
    card = getattr(getattr(intent.latest_charge, "payment_method_details", None), "card", None)
    secure = getattr(card, "three_d_secure", None)
    if secure is None:
        return None
    return getattr(secure, "result", None) in ("authenticated", "attempt_acknowledged")


def refund_outcome(refund: stripe.Refund) -> GatewayOutcome:
    if refund.status in ("failed", "canceled"):
        reason = refund.failure_reason or "The refund failed."
        return GatewayOutcome.declined("REFUND_FAILED", reason, refund.id)
    return GatewayOutcome.succeeded(refund.id)  # succeeded, or pending at the bank
