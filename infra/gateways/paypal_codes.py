"""PayPal's vocabulary in ours: amounts as exact decimal strings, error issues and processor
responses as our stable decline codes, and where in an order its payments are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.enums import NextActionType
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus
from domain.money import Money
from infra.gateways.paypal_client import PayPalResponse

INVALID_GATEWAY_STATE = "INVALID_GATEWAY_STATE"
PAYER_ACTION_REQUIRED = "PAYER_ACTION_REQUIRED"

# `details[].issue` of 422 (and some 400) answers of Orders v2 / Payments v2.
ISSUE_CODES: dict[str, str] = {
    **dict.fromkeys(
        (
            "INSTRUMENT_DECLINED",
            "TRANSACTION_REFUSED",
            "PAYER_CANNOT_PAY",
            "PAYER_ACCOUNT_RESTRICTED",
            "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
            "PAYEE_BLOCKED_TRANSACTION",
            "DECLINED_DUE_TO_RELATED_TXN",
            "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
            "TRANSACTION_LIMIT_EXCEEDED",
        ),
        "CARD_DECLINED",
    ),
    "CARD_EXPIRED": "EXPIRED_CARD",
    "REFERENCED_CARD_EXPIRED": "EXPIRED_CARD",
    # The buyer has not approved (or must act again): send them back to PayPal.
    "PAYER_ACTION_REQUIRED": PAYER_ACTION_REQUIRED,
    "ORDER_NOT_APPROVED": PAYER_ACTION_REQUIRED,
    **dict.fromkeys(
        (
            "ORDER_ALREADY_AUTHORIZED",
            "ORDER_EXPIRED",
            "ORDER_ALREADY_COMPLETED",
            "AUTHORIZATION_VOIDED",
            "AUTHORIZATION_ALREADY_CAPTURED",
            "AUTHORIZATION_EXPIRED",
            "AUTHORIZATION_DENIED",
            "PREVIOUSLY_CAPTURED",
            "PREVIOUSLY_VOIDED",
            "CANNOT_BE_VOIDED",
            "CAPTURE_FULLY_REFUNDED",
            "REFUND_NOT_ALLOWED",
            "REFUND_TIME_LIMIT_EXCEEDED",
            "INVALID_RESOURCE_ID",
            "RESOURCE_NOT_FOUND",
        ),
        INVALID_GATEWAY_STATE,
    ),
    "MAX_CAPTURE_AMOUNT_EXCEEDED": "AMOUNT_TOO_LARGE",
    "REFUND_AMOUNT_EXCEEDED": "AMOUNT_TOO_LARGE",
    "AUTHORIZATION_AMOUNT_EXCEEDED": "AMOUNT_TOO_LARGE",
    "CURRENCY_NOT_SUPPORTED": "UNSUPPORTED_CURRENCY",
    "AUTH_CAPTURE_CURRENCY_MISMATCH": "CURRENCY_MISMATCH",
    "REFUND_CAPTURE_CURRENCY_MISMATCH": "CURRENCY_MISMATCH",
    "DECIMAL_PRECISION": "INVALID_AMOUNT",
    "DECIMALS_NOT_SUPPORTED": "INVALID_AMOUNT",
    "REFUND_FAILED_INSUFFICIENT_FUNDS": "INSUFFICIENT_FUNDS",
    # A saved wallet (vault payment token) PayPal does not know, or no longer honours.
    "TOKEN_ID_NOT_FOUND": "PAYMENT_METHOD_TOKEN_INVALID",
    "TOKEN_EXPIRED": "PAYMENT_METHOD_TOKEN_INVALID",
}
# Worth asking again once the buyer has done what PayPal asks.
SOFT_ISSUES = frozenset({"PAYER_ACTION_REQUIRED", "ORDER_NOT_APPROVED"})

# `processor_response.response_code` of a DENIED authorization (card-funded payments).
PROCESSOR_CODES: dict[str, str] = {
    "0500": "CARD_DECLINED",  # DO_NOT_HONOR
    "5100": "CARD_DECLINED",  # GENERIC_DECLINE
    "5110": "INCORRECT_CVC",  # CVV2_FAILURE
    "5120": "INSUFFICIENT_FUNDS",
    "5400": "EXPIRED_CARD",
}

# Authorization states that hold (or held, then moved) the buyer's funds.
HELD = frozenset({"CREATED", "PENDING", "CAPTURED", "PARTIALLY_CAPTURED"})
CAPTURED = frozenset({"COMPLETED", "PENDING", "PARTIALLY_REFUNDED", "REFUNDED"})
REFUNDED = frozenset({"COMPLETED", "PENDING"})
AWAITING_BUYER = frozenset({"CREATED", "PAYER_ACTION_REQUIRED", "APPROVED", "SAVED"})

# The currencies PayPal's REST API takes (developer.paypal.com/api/rest/reference/currency-codes;
# BRL, CNY, INR and MYR for in-country accounts only). Anything else, KWD and IQD included, is
# refused before a call.
SUPPORTED_CURRENCIES = frozenset(
    ["AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "INR", "JPY", "MYR",
     "MXN", "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD"]
)  # fmt: skip
# "This currency does not support decimals": PayPal takes whole units only in these, whatever
# their ISO 4217 minor unit says (HUF and TWD have two decimals in ISO 4217).
WHOLE_UNITS_ONLY = frozenset({"HUF", "JPY", "TWD"})


def decimal_value(money: Money, exponent: int) -> str | None:
    """The exact decimal string PayPal expects: 1099 EUR -> "10.99", 1000 JPY -> "1000",
    1234 KWD -> "1.234". None if PayPal cannot express the amount (a fraction of a unit
    that PayPal takes whole)."""
    value = money.to_decimal(exponent)
    if money.currency in WHOLE_UNITS_ONLY:
        if value != value.to_integral_value():
            return None
        value = value.quantize(Decimal(1))
    return f"{value:f}"


def money_json(money: Money, value: str) -> dict[str, str]:
    return {"currency_code": money.currency, "value": value}


def declined(response: PayPalResponse, reference: str | None = None) -> GatewayOutcome:
    """A refusal as a declined outcome with our code and PayPal's words (and debug_id)."""
    issue = response.issue
    code = ISSUE_CODES.get(issue)
    if code is None:
        code = INVALID_GATEWAY_STATE if response.status == 404 else "DECLINED"
    reason = f"{response.description} ({issue}"
    reason += f", debug_id {response.debug_id})" if response.debug_id else ")"
    return GatewayOutcome(
        OutcomeStatus.DECLINED,
        reference,
        failure_code=code,
        failure_reason=reason,
        soft=issue in SOFT_ISSUES,
    )


def denied_code(authorization: dict[str, Any]) -> str:
    processor = authorization.get("processor_response") or {}
    return PROCESSOR_CODES.get(str(processor.get("response_code", "")), "CARD_DECLINED")


# --- reading an order -----------------------------------------------------------------------
def payments_of(order: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """`purchase_units[0].payments` (we create one purchase unit per order)."""
    units = order.get("purchase_units") or [{}]
    payments = units[0].get("payments") or {}
    return {
        kind: [p for p in payments.get(kind) or () if isinstance(p, dict)]
        for kind in ("authorizations", "captures", "refunds")
    }


def authorization_of(order: dict[str, Any]) -> dict[str, Any] | None:
    """An AUTHORIZE order holds at most one authorization (ORDER_ALREADY_AUTHORIZED)."""
    authorizations = payments_of(order)["authorizations"]
    return authorizations[0] if authorizations else None


def link(resource: dict[str, Any], *rels: str) -> str | None:
    for rel in rels:
        for item in resource.get("links") or ():
            if isinstance(item, dict) and item.get("rel") == rel and item.get("href"):
                return str(item["href"])
    return None


# --- answers ----------------------------------------------------------------------------------
def order_outcome(order: dict[str, Any]) -> GatewayOutcome:
    """Where an order stands, as the answer to an authorization (reference: the order)."""
    order_id = str(order["id"])
    authorization = authorization_of(order)
    if authorization is not None:
        status = authorization.get("status")
        if status in HELD:
            return GatewayOutcome.succeeded(order_id)
        if status == "DENIED":
            reason = "PayPal denied the authorization"
            return GatewayOutcome.declined(denied_code(authorization), reason, order_id)
        reason = f"the authorization is {status}"
        return GatewayOutcome.declined(INVALID_GATEWAY_STATE, reason, order_id)
    if order.get("status") in AWAITING_BUYER:
        url = link(order, "payer-action", "approve")
        action = NextAction(NextActionType.REDIRECT_TO_URL, url) if url else None
        return GatewayOutcome(OutcomeStatus.REQUIRES_ACTION, order_id, next_action=action)
    reason = f"the order is {order.get('status')}"
    return GatewayOutcome.declined(INVALID_GATEWAY_STATE, reason, order_id)


def capture_outcome(capture: dict[str, Any]) -> GatewayOutcome:
    capture_id = str(capture["id"])
    if capture.get("status") in CAPTURED:
        return GatewayOutcome.succeeded(capture_id)
    reason = f"PayPal could not capture ({capture.get('status')})"
    return GatewayOutcome.declined("CAPTURE_DECLINED", reason, capture_id)


def refund_outcome(refund: dict[str, Any]) -> GatewayOutcome:
    refund_id = str(refund["id"])
    if refund.get("status") in REFUNDED:
        return GatewayOutcome.succeeded(refund_id)
    reason = f"PayPal could not refund ({refund.get('status')})"
    return GatewayOutcome.declined("REFUND_FAILED", reason, refund_id)
