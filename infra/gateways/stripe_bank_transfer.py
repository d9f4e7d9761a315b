"""Stripe bank transfers: a PaymentIntent paid from the customer's cash balance, which the
customer funds by a bank transfer to the account Stripe shows them
(docs.stripe.com/payments/bank-transfers/accept-a-payment).

The PaymentIntent is created with `payment_method_types: [customer_balance]` and
`payment_method_options.customer_balance.funding_type: bank_transfer`, confirmed at once: it
answers `requires_action` with `next_action.display_bank_transfer_instructions` (the
account, the reference to quote, the amount still due). When the transfer arrives Stripe
applies it and the PaymentIntent succeeds (captured: bank transfers have no separate
capture); `payment_intent.succeeded` tells us through the signed webhook.
"""

from __future__ import annotations

from typing import Any

import stripe

from domain.enums import NextActionType, PaymentMethodType
from domain.gateway import (
    AuthorizationRequest,
    BankTransferAccount,
    BankTransferInstructions,
    MethodSupport,
    NextAction,
)
from domain.money import Money
from infra.gateways.stripe_amounts import from_stripe_minor

# Stripe's bank-transfer type for each currency it takes bank transfers in.
TRANSFER_TYPES = {
    "EUR": "eu_bank_transfer",
    "GBP": "gb_bank_transfer",
    "JPY": "jp_bank_transfer",
    "MXN": "mx_bank_transfer",
    "USD": "us_bank_transfer",
}
# Countries Stripe opens EU virtual accounts in (eu_bank_transfer.country).
EU_ACCOUNT_COUNTRIES = frozenset({"BE", "DE", "ES", "FR", "IE", "NL"})
# Stripe's minimum charge amounts (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_MINOR = (("EUR", 50), ("GBP", 30), ("JPY", 50), ("MXN", 1000), ("USD", 50))

SUPPORT = MethodSupport(
    PaymentMethodType.BANK_TRANSFER,
    currencies=frozenset(TRANSFER_TYPES),
    minimum_minor=MINIMUM_MINOR,
)
INSTRUCTIONS = "display_bank_transfer_instructions"


def payment_method_params(currency: str, country: str, default_eu_country: str) -> dict[str, Any]:
    """The PaymentIntent parameters that make it a bank transfer in `currency`. EUR
    transfers go to a virtual account in the customer's country when Stripe opens them
    there, else in `default_eu_country`."""
    transfer_type = TRANSFER_TYPES[currency]
    bank_transfer: dict[str, Any] = {"type": transfer_type}
    if transfer_type == "eu_bank_transfer":
        account_country = country if country in EU_ACCOUNT_COUNTRIES else default_eu_country
        bank_transfer["eu_bank_transfer"] = {"country": account_country}
    return {
        "payment_method_types": ["customer_balance"],
        "payment_method_data": {"type": "customer_balance"},
        "payment_method_options": {
            "customer_balance": {"funding_type": "bank_transfer", "bank_transfer": bank_transfer}
        },
    }


def _get(value: Any, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, key, None)


def _text(value: Any, key: str) -> str:
    found = _get(value, key)
    return str(found) if found is not None else ""


def _account(address: Any) -> BankTransferAccount:
    kind = _text(address, "type")
    details = _get(address, kind)
    return BankTransferAccount(
        type=kind,
        account_holder_name=_text(details, "account_holder_name"),
        iban=_text(details, "iban"),
        bic=_text(details, "bic") or _text(details, "swift_code"),
        country=_text(details, "country"),
        account_number=_text(details, "account_number"),
        sort_code=_text(details, "sort_code"),
        routing_number=_text(details, "routing_number"),
        bank_name=_text(details, "bank_name"),
    )


def instructions_action(next_action: Any, fallback_currency: str) -> NextAction | None:
    """Stripe's `next_action` as ours, when it is bank-transfer instructions."""
    if _text(next_action, "type") != INSTRUCTIONS:
        return None
    shown = _get(next_action, INSTRUCTIONS)
    currency = (_text(shown, "currency") or fallback_currency).upper()
    if len(currency) != 3 or not currency.isalpha():
        return None  # not instructions we could show
    remaining = from_stripe_minor(_get(shown, "amount_remaining"), currency) or 0
    addresses = _get(shown, "financial_addresses") or []
    instructions = BankTransferInstructions(
        type=_text(shown, "type"),
        reference=_text(shown, "reference"),
        amount_remaining=Money(remaining, currency),
        accounts=tuple(_account(address) for address in addresses),
    )
    return NextAction(
        NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS,
        _text(shown, "hosted_instructions_url"),
        instructions,
    )


async def create_intent(
    client: stripe.StripeClient,
    request: AuthorizationRequest,
    amount: int,
    default_eu_country: str,
    key_field: str,
) -> stripe.PaymentIntent:
    """Create and confirm the PaymentIntent (raises StripeError). The cash balance a transfer
    funds belongs to a Customer: without the saved method's, one is made for the payment."""
    customer = request.customer_reference
    if customer is None:
        created = await client.v1.customers.create_async(
            params={"metadata": {"payment_id": request.payment_id}},
            options={"idempotency_key": f"{request.idempotency_key}:customer"},
        )
        customer = created.id
    params: dict[str, Any] = {
        "amount": amount,
        "currency": request.amount.currency.lower(),
        "customer": customer,
        "confirm": True,
        "metadata": request.metadata
        | {"payment_id": request.payment_id, key_field: request.idempotency_key},
        **payment_method_params(request.amount.currency, request.country, default_eu_country),
    }
    if request.description:
        params["description"] = request.description
    return await client.v1.payment_intents.create_async(
        params,  # type: ignore[arg-type]  # a plain dict for the SDK's TypedDict
        {"idempotency_key": request.idempotency_key},
    )
