"""Teaches localstripe Stripe's bank transfers, which it lacks
(docs.stripe.com/payments/bank-transfers/accept-a-payment):

- a PaymentIntent with `payment_method_types: [customer_balance]`,
  `payment_method_data[type]: customer_balance` and
  `payment_method_options[customer_balance]` {funding_type: bank_transfer, bank_transfer:
  {type, eu_bank_transfer: {country}}} needs a Customer; confirmed, it answers
  `requires_action` with `next_action.display_bank_transfer_instructions` (amount_remaining,
  currency, financial_addresses, hosted_instructions_url, reference, type) and fires
  `payment_intent.requires_action`;
- the test helper `POST /v1/test_helpers/customers/{id}/fund_cash_balance` {amount,
  currency, reference} is an incoming transfer: it funds the customer's open bank-transfer
  PaymentIntents in that currency (the one whose reference it quotes, else the oldest
  first); a fully funded one succeeds (captured, with its charge) and fires
  `payment_intent.succeeded`, a partly funded one fires `payment_intent.partially_funded`
  and shows what is left. It answers a `customer_cash_balance_transaction`.

Installed by tests/support/localstripe_launcher.py before the server's routes are built.
"""

from __future__ import annotations

from typing import Any

from localstripe import resources
from localstripe.errors import UserError

TRANSFER_TYPES = {
    "eu_bank_transfer": "eur",
    "gb_bank_transfer": "gbp",
    "us_bank_transfer": "usd",
    "jp_bank_transfer": "jpy",
    "mx_bank_transfer": "mxn",
}
EU_COUNTRIES = {"BE", "DE", "ES", "FR", "IE", "NL"}
HOLDER = "Localstripe Test Merchant"


def _addresses(transfer: dict[str, Any]) -> list[dict[str, Any]]:
    kind = transfer["type"]
    if kind == "eu_bank_transfer":
        country = transfer["eu_bank_transfer"]["country"]
        iban = {"account_holder_name": HOLDER, "bic": "SXPYNL2AXXX", "country": country,
                "iban": f"{country}37STRP0123456789"}  # fmt: skip
        return [{"type": "iban", "iban": iban, "supported_networks": ["sepa"]}]
    if kind == "gb_bank_transfer":
        sort_code = {"account_holder_name": HOLDER, "account_number": "12345678",
                     "sort_code": "040075"}  # fmt: skip
        return [{"type": "sort_code", "sort_code": sort_code, "supported_networks": ["bacs"]}]
    aba = {"account_holder_name": HOLDER, "account_number": "0123456789",
           "routing_number": "110000000", "bank_name": "Test Bank"}  # fmt: skip
    return [{"type": "aba", "aba": aba, "supported_networks": ["ach"]}]


def _instructions(intent: Any) -> dict[str, Any]:
    transfer = intent._bank_transfer
    return {
        "type": "display_bank_transfer_instructions",
        "display_bank_transfer_instructions": {
            "amount_remaining": intent.amount - intent.amount_received,
            "currency": intent.currency,
            "financial_addresses": _addresses(transfer),
            "hosted_instructions_url": (
                f"https://payments.stripe.com/bank_transfers/instructions/{intent.id}"
            ),
            "reference": intent._reference,
            "type": transfer["type"],
        },
    }


def _bank_transfer_options(
    customer: Any, currency: Any, data: Any, options: Any, capture_method: Any
) -> dict[str, Any]:
    balance = (options or {}).get("customer_balance") or {}
    transfer = balance.get("bank_transfer") or {}
    kind = transfer.get("type")
    problems = [
        not customer and "customer is required for customer_balance",
        (data or {}).get("type") != "customer_balance"
        and "payment_method_data[type] must be customer_balance",
        balance.get("funding_type") != "bank_transfer" and "funding_type must be bank_transfer",
        kind not in TRANSFER_TYPES and "unknown bank_transfer type",
        kind in TRANSFER_TYPES and TRANSFER_TYPES[kind] != currency
        and f"{kind} does not take {currency}",
        kind == "eu_bank_transfer"
        and (transfer.get("eu_bank_transfer") or {}).get("country") not in EU_COUNTRIES
        and "eu_bank_transfer[country] must be one of BE, DE, ES, FR, IE, NL",
        capture_method == "manual" and "customer_balance takes no manual capture",
    ]  # fmt: skip
    found = [p for p in problems if p]
    if found:
        raise UserError(400, "; ".join(found))
    return dict(transfer)


def _settle(intent: Any) -> None:
    """The transfer paid the PaymentIntent in full: a captured charge, then succeeded."""
    charge = object.__new__(resources.Charge)
    resources.StripeObject.__init__(charge)
    fields = {
        "amount": intent.amount, "currency": intent.currency, "customer": intent.customer,
        "description": None, "invoice": None, "metadata": {}, "status": "succeeded",
        "receipt_email": None, "receipt_number": None, "payment_intent": intent.id,
        "payment_method": intent.payment_method, "statement_descriptor": None,
        "failure_code": None, "failure_message": None, "captured": True,
        "balance_transaction": None, "_authorized": True,
    }  # fmt: skip
    for name, value in fields.items():
        setattr(charge, name, value)
    intent.latest_charge = charge
    intent.next_action = None
    intent._on_success()


class CashBalanceTransaction(resources.StripeObject):  # type: ignore[misc]
    object = "customer_cash_balance_transaction"
    _id_prefix = "ccsbtxn_"

    def __init__(self, customer: str, amount: int, currency: str, reference: str) -> None:
        super().__init__()
        self.customer, self.currency, self.net_amount, self.type = (
            customer,
            currency,
            amount,
            "funded",
        )
        self.funded = {"bank_transfer": {"reference": reference, "type": "eu_bank_transfer"}}


def fund_cash_balance(
    id: Any = None, amount: Any = None, currency: Any = None, reference: Any = None, **kwargs: Any
) -> CashBalanceTransaction:
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs))
    resources.Customer._api_retrieve(id)  # 404 for an unknown customer
    amount = resources.try_convert_to_int(amount)
    if type(amount) is not int or amount <= 0 or not isinstance(currency, str):
        raise UserError(400, "amount and currency are required")
    waiting = sorted(
        (
            obj
            for key, obj in resources.store.items()
            if key.startswith("payment_intent:")
            and getattr(obj, "_bank_transfer", None)
            and obj.customer == id
            and obj.currency == currency
            and obj.status == "requires_action"
            and (not reference or reference == obj._reference)
        ),
        key=lambda intent: intent.created,
    )
    left = amount
    for intent in waiting:
        if not left:
            break
        taken = min(left, intent.amount - intent.amount_received)
        intent.amount_received += taken
        left -= taken
        if intent.amount_received == intent.amount:
            _settle(intent)
        else:
            intent.next_action = _instructions(intent)
            resources.schedule_webhook(resources.Event("payment_intent.partially_funded", intent))
    return CashBalanceTransaction(id, amount, currency, reference or "")


def take_bank_transfers() -> None:
    intents = resources.PaymentIntent
    create, confirm = intents.__init__, intents._confirm

    def init(
        self: Any,
        *args: Any,
        payment_method_types: Any = None,
        payment_method_data: Any = None,
        payment_method_options: Any = None,
        **data: Any,
    ) -> None:
        transfer = None
        if payment_method_types == ["customer_balance"]:
            transfer = _bank_transfer_options(
                data.get("customer"), data.get("currency"), payment_method_data,
                payment_method_options, data.get("capture_method"),
            )  # fmt: skip
        create(self, *args, payment_method_types=payment_method_types,
               payment_method_options=payment_method_options, **data)  # fmt: skip
        self.payment_method_types = payment_method_types or ["card"]
        self.amount_received = 0
        self._bank_transfer = transfer
        if transfer is not None:
            self.capture_method = "automatic"
            # The customer's cash balance is the PaymentIntent's payment method.
            self.payment_method = "pm_" + resources.random_id(24)
            self._reference = resources.random_id(12).upper()

    def confirm_bank_transfer(self: Any, on_failure_now: Any) -> None:
        if getattr(self, "_bank_transfer", None) is None:
            confirm(self, on_failure_now)
            return
        self.next_action = _instructions(self)
        resources.schedule_webhook(resources.Event("payment_intent.requires_action", self))

    intents.__init__ = init
    intents._confirm = confirm_bank_transfer
    resources.extra_apis.append(
        ("POST", "/v1/test_helpers/customers/{id}/fund_cash_balance", fund_cash_balance)
    )
