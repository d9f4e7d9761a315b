"""The PayPal gateway: Orders v2 with intent AUTHORIZE, then Payments v2.

The payment method token says which checkout it is:

- `paypal` (ONE_TIME_CHECKOUT): the buyer approves at PayPal. authorize creates the order
  and answers REQUIRES_ACTION with its approve / payer-action link; after the buyer comes
  back, confirm authorizes it (POST /v2/checkout/orders/{order}/authorize).
- anything else is a saved PayPal wallet (a vault payment token id): authorize creates the
  order and authorizes it with `payment_source.paypal.vault_id`, no buyer needed.

    capture  POST /v2/payments/authorizations/{auth}/capture (amount, final_capture)
    void     POST /v2/payments/authorizations/{auth}/void
    refund   POST /v2/payments/captures/{capture}/refund

References: authorize and confirm answer with the ORDER id, so the payment's
`gateway_payment_id` is the order for its whole life (the domain overwrites it with every
authorization answer; the order is PayPal's counterpart of a Stripe PaymentIntent). Capture
and void read the authorization id from the order (GET) first. Capture answers with the
CAPTURE id, which refunds need (`capture_reference`; without it the capture is read from
the order). Void answers with the authorization id, refund with the refund id.

Every POST carries `PayPal-Request-Id` = our idempotency key (the order's authorize step:
the key + ":authorize"), so a retry replays PayPal's first answer; lookup is built on that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from domain.enums import GatewayName, PaymentMethodType, TransactionType
from domain.errors import FieldViolation, InvalidPaymentMethodToken
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    MethodSupport,
    OutcomeStatus,
    PaymentMethodDetails,
)
from domain.money import Money
from infra.currency import iso_exponent
from infra.gateways import sca_exemptions as exemptions
from infra.gateways.paypal_client import DEFAULT_TIMEOUT, PayPalClient, base_url_for
from infra.gateways.paypal_codes import (
    CAPTURED,
    INVALID_GATEWAY_STATE,
    PAYER_ACTION_REQUIRED,
    SUPPORTED_CURRENCIES,
    authorization_of,
    capture_outcome,
    decimal_value,
    declined,
    money_json,
    order_outcome,
    payments_of,
    refund_outcome,
)

ONE_TIME_CHECKOUT = "paypal"
ORDERS = "/v2/checkout/orders"
AUTHORIZATIONS = "/v2/payments/authorizations"
CAPTURES = "/v2/payments/captures"
MAX_CUSTOM_ID = 127
# The order's authorize step after creating it: answers PayPal never acted on.
NEVER_AUTHORIZED = frozenset({"ORDER_NOT_APPROVED", "PAYER_ACTION_REQUIRED"})


def _authorize_key(idempotency_key: str) -> str:
    return f"{idempotency_key}:authorize"


class PayPalGateway:
    def __init__(
        self, client: PayPalClient, *, exponent: Callable[[str], int | None] | None = None
    ) -> None:
        self._client = client
        # ISO 4217 minor units: amounts go out as exact decimals of the minor unit.
        self._exponent = exponent or iso_exponent

    @classmethod
    def create(
        cls,
        client_id: str,
        client_secret: str,
        *,
        mode: str = "sandbox",
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> PayPalGateway:
        """From settings: PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, PAYPAL_MODE and an optional
        base URL override (a test server)."""
        client = PayPalClient(
            client_id,
            client_secret,
            base_url=base_url_for(mode, base_url),
            timeout=(
                DEFAULT_TIMEOUT
                if timeout is None
                else httpx.Timeout(timeout, connect=min(timeout, 5.0))
            ),
        )
        return cls(client)

    @property
    def name(self) -> GatewayName:
        return GatewayName.PAYPAL

    @property
    def capabilities(self) -> GatewayCapabilities:
        """PayPal wallets, in the currencies PayPal's REST API takes."""
        return GatewayCapabilities(
            (MethodSupport(PaymentMethodType.PAYPAL, currencies=SUPPORTED_CURRENCIES),),
            sca_exemptions=exemptions.PAYPAL_EXEMPTIONS,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _amount(self, money: Money) -> dict[str, str] | GatewayOutcome:
        """PayPal's amount object, or the decline for an amount PayPal cannot take."""
        exponent = self._exponent(money.currency)
        if exponent is None or money.currency not in SUPPORTED_CURRENCIES:
            reason = f"PayPal does not take {money.currency}"
            return GatewayOutcome.declined("UNSUPPORTED_CURRENCY", reason)
        value = decimal_value(money, exponent)
        if value is None:
            reason = f"PayPal takes whole units of {money.currency} only"
            return GatewayOutcome.declined("INVALID_AMOUNT", reason)
        return money_json(money, value)

    def _order_body(self, idempotency_key: str, amount: dict[str, str]) -> dict[str, Any]:
        """Made of the key and the amount alone, so that lookup can send it again as is."""
        unit = {"custom_id": idempotency_key[:MAX_CUSTOM_ID], "amount": amount}
        return {"intent": "AUTHORIZE", "purchase_units": [unit]}

    # --- authorize and confirm --------------------------------------------------------------
    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        if request.payment_method_type is not PaymentMethodType.PAYPAL:
            reason = "the PayPal gateway takes PAYPAL payments only"
            return GatewayOutcome.declined("PAYMENT_METHOD_UNUSABLE", reason)
        amount = self._amount(request.amount)
        if isinstance(amount, GatewayOutcome):
            return amount
        key, body = request.idempotency_key, self._order_body(request.idempotency_key, amount)
        saved_wallet = request.payment_method_token != ONE_TIME_CHECKOUT
        stored = exemptions.paypal_stored_credential(request, saved_wallet=saved_wallet)
        if isinstance(stored, GatewayOutcome):
            return stored
        if request.return_url and not saved_wallet:
            body["payment_source"] = {
                "paypal": {
                    "experience_context": {
                        "return_url": request.return_url,
                        "cancel_url": request.return_url,
                        "user_action": "CONTINUE",
                    }
                }
            }
        response = await self._client.post(ORDERS, body, request_id=key)
        if not response.ok:
            return declined(response)
        if not saved_wallet:
            return order_outcome(response.body)
        order_id = str(response.body["id"])
        wallet: dict[str, Any] = {"vault_id": request.payment_method_token}
        if stored is not None:
            wallet["stored_credential"] = stored
        response = await self._client.post(
            f"{ORDERS}/{order_id}/authorize",
            {"payment_source": {"paypal": wallet}},
            request_id=_authorize_key(key),
        )
        sent = exemptions.PAYPAL_SENT if stored is not None else None
        if not response.ok:
            return replace(declined(response, order_id), sca_exemption_sent=sent)
        return replace(order_outcome(response.body), sca_exemption_sent=sent)

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        order_id = request.gateway_payment_id
        response = await self._client.post(
            f"{ORDERS}/{order_id}/authorize", {}, request_id=request.idempotency_key
        )
        if not response.ok:
            return declined(response, order_id)
        outcome = order_outcome(response.body)
        if outcome.status is OutcomeStatus.REQUIRES_ACTION:  # answered 2xx, yet not authorized
            reason = "the buyer has not approved the order"
            return GatewayOutcome.declined(PAYER_ACTION_REQUIRED, reason, order_id)
        return outcome

    # --- capture, void, refund --------------------------------------------------------------
    async def _order(self, order_id: str) -> dict[str, Any] | GatewayOutcome:
        response = await self._client.get(f"{ORDERS}/{order_id}")
        return response.body if response.ok else declined(response)

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        order = await self._order(request.gateway_payment_id)
        if isinstance(order, GatewayOutcome):
            return order
        authorization = authorization_of(order)
        if authorization is None:
            return GatewayOutcome.declined(INVALID_GATEWAY_STATE, "nothing authorized to capture")
        amount = self._amount(request.amount)
        if isinstance(amount, GatewayOutcome):
            return amount
        # One capture per payment: final_capture releases whatever was authorized beyond it.
        response = await self._client.post(
            f"{AUTHORIZATIONS}/{authorization['id']}/capture",
            {"amount": amount, "final_capture": True},
            request_id=request.idempotency_key,
        )
        return capture_outcome(response.body) if response.ok else declined(response)

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        order = await self._order(request.gateway_payment_id)
        if isinstance(order, GatewayOutcome):
            return order
        authorization = authorization_of(order)
        if authorization is None:
            # Never authorized: PayPal holds nothing, the order lapses by itself, and we never
            # authorize it now. There is no void of an order to send.
            return GatewayOutcome.succeeded(str(order["id"]))
        authorization_id = str(authorization["id"])
        response = await self._client.post(
            f"{AUTHORIZATIONS}/{authorization_id}/void", {}, request_id=request.idempotency_key
        )
        if not response.ok:
            return declined(response, authorization_id)
        return GatewayOutcome.succeeded(authorization_id)

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        capture_id = request.capture_reference
        if capture_id is None:
            order = await self._order(request.gateway_payment_id)
            if isinstance(order, GatewayOutcome):
                return order
            captures = [c for c in payments_of(order)["captures"] if c.get("status") in CAPTURED]
            if not captures:
                return GatewayOutcome.declined(INVALID_GATEWAY_STATE, "nothing captured to refund")
            capture_id = str(captures[0]["id"])
        amount = self._amount(request.amount)
        if isinstance(amount, GatewayOutcome):
            return amount
        # custom_id = our key: how lookup tells this refund from the payment's others.
        body = {"amount": amount, "custom_id": request.idempotency_key[:MAX_CUSTOM_ID]}
        response = await self._client.post(
            f"{CAPTURES}/{capture_id}/refund", body, request_id=request.idempotency_key
        )
        return refund_outcome(response.body) if response.ok else declined(response)

    # --- lookup -----------------------------------------------------------------------------
    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        """What PayPal did under the key, or None if it never acted on it. Reads state, and
        for authorizations repeats only requests that cannot move money."""
        if request.operation is TransactionType.AUTHORIZATION:
            return await self._lookup_authorization(request)
        if request.gateway_payment_id is None:
            return None  # nothing can have been sent without the order's id
        order = await self._order(request.gateway_payment_id)
        if isinstance(order, GatewayOutcome):
            return None  # PayPal has no such order
        payments, authorization = payments_of(order), authorization_of(order)
        key = request.idempotency_key[:MAX_CUSTOM_ID]
        if request.operation is TransactionType.CAPTURE:
            # At most one capture succeeds per payment (final_capture), so it is this one.
            done = [c for c in payments["captures"] if c.get("status") in CAPTURED]
            tried = done or payments["captures"]
            return capture_outcome(tried[-1]) if tried else None
        if request.operation is TransactionType.VOID:
            if authorization is not None and authorization.get("status") == "VOIDED":
                return GatewayOutcome.succeeded(str(authorization["id"]))
            return None
        refunds = [r for r in payments["refunds"] if r.get("custom_id") == key]
        return refund_outcome(refunds[0]) if refunds else None

    async def _lookup_authorization(self, request: LookupRequest) -> GatewayOutcome | None:
        # A confirm of the payment's order: the authorization it made, if any.
        confirmed = None
        if request.gateway_payment_id is not None:
            order = await self._order(request.gateway_payment_id)
            if not isinstance(order, GatewayOutcome) and authorization_of(order) is not None:
                confirmed = order_outcome(order)
                if confirmed.status is OutcomeStatus.SUCCEEDED:
                    return confirmed
        # An authorize, whose order id may never have arrived.
        authorized = await self._replay_authorize(request)
        return authorized if authorized is not None else confirmed

    async def _replay_authorize(self, request: LookupRequest) -> GatewayOutcome | None:
        """Repeats authorize's two requests in forms that cannot move money. Creating the
        order again under the key (with the same body: key and amount) replays the order
        PayPal made then, or makes a new one that nobody can approve. Authorizing that order
        without a payment source replays PayPal's answer to the saved wallet's authorization,
        or is refused as unapproved (never received)."""
        amount = self._amount(request.amount)
        if isinstance(amount, GatewayOutcome):
            return None
        key = request.idempotency_key
        created = await self._client.post(ORDERS, self._order_body(key, amount), request_id=key)
        if not created.ok:
            return None  # PayPal holds nothing of ours under this key
        order = await self._order(str(created.body["id"]))
        if isinstance(order, GatewayOutcome):
            return None
        if authorization_of(order) is not None:
            return order_outcome(order)
        replayed = await self._client.post(
            f"{ORDERS}/{order['id']}/authorize", {}, request_id=_authorize_key(key)
        )
        if replayed.ok:
            return order_outcome(replayed.body)
        return None if replayed.issue in NEVER_AUTHORIZED else declined(replayed, str(order["id"]))

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        """PayPal has no customer object here: a vaulted wallet's token is reusable as is."""
        return None

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails:
        if method_type is not PaymentMethodType.PAYPAL:
            raise InvalidPaymentMethodToken(
                "the PayPal gateway keeps no cards or bank accounts",
                violations=[FieldViolation("payment_method_token", "is not a PayPal method")],
            )
        # The buyer's account is theirs to choose at approval; its email comes from the caller.
        return PaymentMethodDetails(type=PaymentMethodType.PAYPAL)
