"""What Stripe's errors mean for the gateway port.

A card error or a refused request is a definite answer: an outcome with our decline code. The
rest raise: `GatewayUnavailable` when Stripe certainly did not act (nothing reached it, it
rejected our credentials, it rate limited us, or the request only read), and
`GatewayOutcomeUnknown` when a money-moving request may have been carried out (no answer after
sending, a 5xx: Stripe documents 500s as indeterminate). Messages never carry the API key.
"""

from __future__ import annotations

import httpx
import stripe

from domain.errors import DomainError, GatewayOutcomeUnknown, GatewayUnavailable
from domain.gateway import GatewayOutcome, OutcomeStatus

GATEWAY = {"gateway": "STRIPE"}

# Stripe's decline_code (or error code) -> (our failure code, soft: worth retrying later).
# Lost, stolen and fraud declines are reported as a generic decline, as Stripe advises.
DECLINES: dict[str, tuple[str, bool]] = {
    "insufficient_funds": ("INSUFFICIENT_FUNDS", False),
    "expired_card": ("EXPIRED_CARD", False),
    "incorrect_cvc": ("INCORRECT_CVC", False),
    "invalid_cvc": ("INCORRECT_CVC", False),
    "incorrect_number": ("INCORRECT_NUMBER", False),
    "invalid_number": ("INCORRECT_NUMBER", False),
    "authentication_required": ("AUTHENTICATION_REQUIRED", False),
    "payment_intent_authentication_failure": ("AUTHENTICATION_FAILED", False),
    "card_not_supported": ("CARD_NOT_SUPPORTED", False),
    "currency_not_supported": ("CARD_NOT_SUPPORTED", False),
    "card_velocity_exceeded": ("LIMIT_EXCEEDED", False),
    "withdrawal_count_limit_exceeded": ("LIMIT_EXCEEDED", False),
    "processing_error": ("PROCESSING_ERROR", True),
    "try_again_later": ("TRY_AGAIN_LATER", True),
    "issuer_not_available": ("TRY_AGAIN_LATER", True),
    "reenter_transaction": ("TRY_AGAIN_LATER", True),
    "approve_with_id": ("TRY_AGAIN_LATER", True),
}
GENERIC_DECLINE = ("CARD_DECLINED", False)

# invalid_request_error codes of requests Stripe refused without acting.
REFUSALS: dict[str, str] = {
    "amount_too_large": "AMOUNT_TOO_LARGE",
    "charge_already_refunded": "AMOUNT_TOO_LARGE",
    "amount_too_small": "AMOUNT_TOO_SMALL",
    "payment_intent_unexpected_state": "INVALID_GATEWAY_STATE",
    "charge_already_captured": "INVALID_GATEWAY_STATE",
    "charge_expired_for_capture": "INVALID_GATEWAY_STATE",
    "payment_intent_authentication_failure": "AUTHENTICATION_FAILED",
}

# httpx errors raised before a request left this process: Stripe cannot have seen it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def decline(
    code: str | None, decline_code: str | None, message: str | None, reference: str | None
) -> GatewayOutcome:
    ours, soft = DECLINES.get(decline_code or "") or DECLINES.get(code or "") or GENERIC_DECLINE
    return GatewayOutcome(
        OutcomeStatus.DECLINED,
        reference,
        failure_code=ours,
        failure_reason=message or "The card was declined.",
        soft=soft,
        liability_shift=False if ours == "AUTHENTICATION_FAILED" else None,
    )


def is_not_found(error: stripe.StripeError) -> bool:
    return isinstance(error, stripe.InvalidRequestError) and (
        error.http_status == 404 or error.code == "resource_missing"
    )


def answer(error: stripe.StripeError, *, missing: str) -> GatewayOutcome:
    """The outcome of a money-moving request that failed with `error`, or raise. `missing` is
    our code when the object named in the request does not exist."""
    if isinstance(error, stripe.CardError):
        detail = error.error
        intent = detail.payment_intent if detail is not None else None
        return decline(
            error.code,
            detail.decline_code if detail is not None else None,
            error.user_message or None,
            intent.id if intent is not None else None,
        )
    if isinstance(error, stripe.InvalidRequestError):
        code = missing if is_not_found(error) else REFUSALS.get(error.code or "", "")
        return GatewayOutcome.declined(
            code or "GATEWAY_REJECTED_REQUEST", error.user_message or "Stripe refused the request."
        )
    raise failure(error, mutating=True)


def failure(error: stripe.StripeError, *, mutating: bool) -> DomainError:
    """The exception for an error without a definite answer."""
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayUnavailable(
            "Stripe refused the configured API key (check the Stripe secret key setting)",
            metadata=GATEWAY,
        )
    if isinstance(error, stripe.RateLimitError):
        # Stripe's rate limiter runs before its idempotency layer: nothing was done.
        return GatewayUnavailable("Stripe is rate limiting requests", metadata=GATEWAY)
    if isinstance(error, stripe.APIConnectionError):
        if not mutating or isinstance(error.__cause__, NOT_SENT):
            return GatewayUnavailable("Stripe could not be reached", metadata=GATEWAY)
        return GatewayOutcomeUnknown(
            "no answer from Stripe after sending; the outcome will be reconciled",
            metadata=GATEWAY,
        )
    status = str(error.http_status or "no status")
    if not mutating:
        return GatewayUnavailable(f"Stripe answered HTTP {status}", metadata=GATEWAY)
    return GatewayOutcomeUnknown(
        f"Stripe answered HTTP {status}; the outcome will be reconciled",
        metadata=GATEWAY | {"http_status": status},
    )
