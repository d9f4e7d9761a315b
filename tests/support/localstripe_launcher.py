"""Runs localstripe on 127.0.0.1:PORT for the tests: `python -m tests.support.localstripe_launcher
PORT`.

Before serving it
- keeps the state in this process only: localstripe hard-codes one pickle file in the temp
  directory, loaded at start and rewritten on every write, so instances would share state;
- teaches it a few documented Stripe behaviours it lacks, so that the gateway contract runs
  against the wire shapes the adapter meets in production:
  * Stripe's decline test cards decline when charged, with Stripe's `code`/`decline_code`,
    `type: card_error` and the PaymentIntent in the error (localstripe declines most of them
    only when attached to a customer, always as a bare `card_declined`);
  * a refund larger than what is left on the charge is refused with `amount_too_large`
    (localstripe accepts any amount);
  * capturing or cancelling a PaymentIntent in the wrong state is refused with
    `payment_intent_unexpected_state` (localstripe captures a cancelled one);
  * PaymentIntents take `description`, `return_url` and `automatic_payment_methods`
    (localstripe answers 400; it only has cards, so the last two change nothing here);
  * `off_session` and `payment_method_options` are kept on the PaymentIntent (what the
    adapter sent, for the tests to read back), and off session a card that needs 3-D Secure
    fails with `authentication_required`;
  * bank transfers: customer_balance PaymentIntents that wait with the transfer
    instructions, and the test helper that funds them (tests/support/localstripe_bank_transfers.py);
  * listing PaymentIntents and refunds by creation time (tests/support/localstripe_listing.py).
"""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError

from tests.support.localstripe_bank_transfers import take_bank_transfers
from tests.support.localstripe_listing import list_by_creation

# Card number -> (code, decline_code, message), as Stripe's test cards answer when charged.
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": (
        "card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": (
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": (
        "processing_error", "processing_error",
        "An error occurred while processing your card. Try again in a little bit."),
    "4242424242424241": ("incorrect_number", "incorrect_number", "Your card number is incorrect."),
}  # fmt: skip
GENERIC = ("card_declined", "generic_decline", "Your card was declined.")


def keep_state_in_memory() -> None:
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


def decline_test_cards_when_charged() -> None:
    charging_is_declined = resources.PaymentMethod._charging_is_declined

    def declined(self: Any) -> bool:
        number = getattr(self, "_card_number", None)
        return bool(charging_is_declined(self)) or number in DECLINES

    def set_auth_failure(self: Any) -> None:
        method = resources.PaymentMethod._api_retrieve(self.payment_method)
        code, decline_code, message = DECLINES.get(getattr(method, "_card_number", ""), GENERIC)
        self.status, self.failure_code, self.failure_message = "failed", code, message
        self._decline_code = decline_code

    def raise_failure(self: Any) -> None:
        intent = self.payment_intent and resources.PaymentIntent._api_retrieve(self.payment_intent)
        error = UserError(
            402,
            self.failure_message,
            {
                "code": self.failure_code,
                "decline_code": getattr(self, "_decline_code", "generic_decline"),
                "charge": self.id,
                "payment_intent": intent._export() if intent else None,
            },
        )
        error.body["error"]["type"] = "card_error"
        raise error

    last_payment_error = resources.PaymentIntent.last_payment_error.fget

    def payment_error(self: Any) -> dict[str, Any] | None:
        error: dict[str, Any] | None = last_payment_error(self)
        if error and error.get("charge"):
            error["type"] = "card_error"
            error["decline_code"] = getattr(self.latest_charge, "_decline_code", None)
        return error

    resources.PaymentMethod._charging_is_declined = declined
    resources.Card._charging_is_declined = declined
    resources.Charge._set_auth_failure = set_auth_failure
    resources.Charge._raise_failure = raise_failure
    resources.PaymentIntent.last_payment_error = property(payment_error)


def refuse_refunds_beyond_the_charge() -> None:
    create = resources.Refund.__init__

    def init(self: Any, charge: Any = None, payment_intent: Any = None, **data: Any) -> None:
        target = None
        if isinstance(payment_intent, str):
            target = resources.PaymentIntent._api_retrieve(payment_intent).latest_charge
        elif isinstance(charge, str):
            target = resources.Charge._api_retrieve(charge)
        amount = resources.try_convert_to_int(data.get("amount"))
        if target is not None and target.captured and isinstance(amount, int):
            left = target.amount - target.amount_refunded
            if amount > left:
                raise UserError(
                    400,
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({left})",
                    {"code": "amount_too_large", "param": "amount"},
                )
        create(self, charge=charge, payment_intent=payment_intent, **data)

    resources.Refund.__init__ = init


def refuse_captures_and_cancels_out_of_state() -> None:
    intents = resources.PaymentIntent
    allowed = {
        intents._api_capture: ("requires_capture",),
        intents._api_cancel: (
            "requires_payment_method", "requires_capture", "requires_confirmation",
            "requires_action"),
    }  # fmt: skip

    def guard(original: Any, states: tuple[str, ...]) -> Any:
        def guarded(id: Any = None, **data: Any) -> Any:
            status = resources.PaymentIntent._api_retrieve(id).status
            if status not in states:
                raise UserError(
                    400,
                    f"This PaymentIntent could not be changed because it has a status of {status}.",
                    {"code": "payment_intent_unexpected_state"},
                )
            return original(id, **data)

        return guarded

    # The routes hold the functions listed in extra_apis when the server module is imported.
    resources.extra_apis[:] = [
        (method, url, guard(func, allowed[func]) if func in allowed else func)
        for method, url, func in resources.extra_apis
    ]


def accept_newer_payment_intent_parameters() -> None:
    create = resources.PaymentIntent.__init__

    def init(
        self: Any,
        *args: Any,
        description: Any = None,
        return_url: Any = None,
        automatic_payment_methods: Any = None,
        **data: Any,
    ) -> None:
        create(self, *args, **data)
        self.description = description

    resources.PaymentIntent.__init__ = init


def honour_off_session() -> None:
    """`off_session` and `payment_method_options` as Stripe takes them: the options are kept
    on the PaymentIntent (Stripe returns them), and a payment off session whose card needs
    3-D Secure fails with `authentication_required` instead of waiting for a customer who is
    not there (localstripe accepts off_session and ignores it)."""
    create = resources.PaymentIntent._api_create.__func__

    def api_create(cls: Any, /, confirm: Any = None, off_session: Any = None, **data: Any) -> Any:
        off = resources.try_convert_to_bool(off_session) is True
        options = data.get("payment_method_options")
        method = data.get("payment_method")
        needs_3ds = (
            bool(method)
            and resources.PaymentMethod._api_retrieve(method)._requires_authentication()
        )
        if off and needs_3ds and resources.try_convert_to_bool(confirm) is True:
            intent = create(cls, **data)  # not confirmed: nobody can authenticate
            intent.payment_method_options = options or {}
            intent.off_session = True
            error = UserError(
                402,
                "Your card was declined. This transaction requires authentication.",
                {
                    "code": "authentication_required",
                    "decline_code": "authentication_required",
                    "payment_intent": intent._export(),
                },
            )
            error.body["error"]["type"] = "card_error"
            raise error
        intent = create(cls, confirm=confirm, off_session=off_session, **data)
        intent.payment_method_options = options or {}
        intent.off_session = off
        return intent

    resources.PaymentIntent._api_create = classmethod(api_create)


def main() -> None:
    port = int(sys.argv[1])
    keep_state_in_memory()
    decline_test_cards_when_charged()
    refuse_refunds_beyond_the_charge()
    refuse_captures_and_cancels_out_of_state()
    accept_newer_payment_intent_parameters()
    honour_off_session()
    take_bank_transfers()
    list_by_creation()
    from localstripe import server  # noqa: PLC0415 - builds its routes from the patched APIs

    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
