"""The Stripe adapter: PaymentIntents with manual capture, on the official SDK's async client.

Our idempotency key goes out as Stripe's Idempotency-Key on every money-moving request (Stripe
replays the first answer for 24 hours) and into the metadata of the PaymentIntent or Refund,
which is how `lookup` finds an operation again. A PaymentIntent is captured or cancelled at
most once, so captures and voids are looked up by the PaymentIntent's state.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import stripe
from stripe.params import PaymentIntentCreateParams

from domain.enums import GatewayName, NextActionType, PaymentMethodType, TransactionType
from domain.errors import (
    FieldViolation,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
    InvalidPaymentMethodToken,
    PaymentDeclined,
)
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    MethodSupport,
    NextAction,
    OutcomeStatus,
    PaymentMethodDetails,
)
from infra.gateways import sca_exemptions as exemptions
from infra.gateways import stripe_bank_transfer as bank_transfer
from infra.gateways.stripe_amounts import inexact, stripe_amount
from infra.gateways.stripe_errors import GATEWAY, answer, decline, failure, is_not_found
from infra.gateways.stripe_objects import expanded_id as _id
from infra.gateways.stripe_objects import liability_shift as _liability_shift
from infra.gateways.stripe_objects import metadata_of as _metadata
from infra.gateways.stripe_objects import refund_outcome as _refunded

KEY = "idempotency_key"  # metadata key of our idempotency key
INVALID_STATE = "INVALID_GATEWAY_STATE"
# Cards in any currency Stripe takes; bank transfers where Stripe offers them.
CAPABILITIES = GatewayCapabilities(
    (
        MethodSupport(PaymentMethodType.CREDIT_CARD),
        MethodSupport(PaymentMethodType.DEBIT_CARD),
        bank_transfer.SUPPORT,
    ),
    sca_exemptions=exemptions.STRIPE_EXEMPTIONS,
)


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.stripe.com",
        timeout_seconds: float = 30.0,
        next_action_url: str = "https://checkout.invalid/stripe/next-action",
        search_api: bool = True,
        scan_limit: int = 1000,
        http_client: stripe.HTTPClient | None = None,
        eu_bank_transfer_country: str = "NL",
    ) -> None:
        """`next_action_url`: our page that runs Stripe.js for 3-D Secure when Stripe gives no
        redirect URL. `search_api`: find authorizations whose PaymentIntent id we never
        learned with Stripe's Search API, after scanning the `scan_limit` newest ones (the
        list is consistent at once, the search index lags by up to a minute).
        `eu_bank_transfer_country`: where EUR transfers go when Stripe opens no virtual
        account in the customer's country."""
        self._http = http_client or stripe.HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url},
            http_client=self._http,
            max_network_retries=0,
        )
        self._next_action_url = next_action_url
        self._search_api = search_api
        self._scan_limit = scan_limit
        self._eu_country = eu_bank_transfer_country

    @property
    def name(self) -> GatewayName:
        return GatewayName.STRIPE

    @property
    def capabilities(self) -> GatewayCapabilities:
        return CAPABILITIES

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # --- money-moving operations ---------------------------------------------------------
    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        if not CAPABILITIES.takes(
            request.payment_method_type, request.amount.currency, request.country
        ):
            return GatewayOutcome.declined(
                "PAYMENT_METHOD_NOT_SUPPORTED",
                f"Stripe does not take {request.payment_method_type.value} "
                f"in {request.amount.currency} here.",
            )
        amount = stripe_amount(request.amount)
        if amount is None:
            return inexact(request.amount)
        exempting = exemptions.stripe_params(request)
        if isinstance(exempting, GatewayOutcome):
            return exempting
        if request.payment_method_type is PaymentMethodType.BANK_TRANSFER:
            return await self._bank_transfer(request, amount)
        sent = exemptions.STRIPE_SENT if exempting else None
        # In our metadata too, so that a lookup (reconciliation) of the PaymentIntent tells it.
        noted = {exemptions.STRIPE_METADATA: sent} if sent else {}
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": request.amount.currency.lower(),
            "payment_method": request.payment_method_token,
            "capture_method": "manual",
            "confirm": True,
            "metadata": request.metadata
            | {"payment_id": request.payment_id, KEY: request.idempotency_key}
            | noted,
            "expand": ["latest_charge"],
        }
        if request.description:
            params["description"] = request.description
        if request.return_url:
            params["return_url"] = request.return_url
        else:  # no redirect-based methods: 3-D Secure then runs through Stripe.js
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        if request.customer_reference:
            params["customer"] = request.customer_reference
        params.update(exempting)  # type: ignore[typeddict-item]
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            return replace(
                answer(error, missing="PAYMENT_METHOD_TOKEN_INVALID"), sca_exemption_sent=sent
            )
        return self._authorization(intent)

    async def _bank_transfer(self, request: AuthorizationRequest, amount: int) -> GatewayOutcome:
        """Waits (REQUIRES_ACTION with the instructions) until the transfer arrives."""
        try:
            intent = await bank_transfer.create_intent(
                self._client, request, amount, self._eu_country, KEY
            )
        except stripe.StripeError as error:
            return answer(error, missing="PAYMENT_METHOD_NOT_SUPPORTED")
        return self._authorization(intent)

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        """After 3-D Secure Stripe finishes the authorization itself; confirm only if the
        PaymentIntent still waits for it."""
        intent = await self._intent(request.gateway_payment_id)
        if intent is None:
            return GatewayOutcome.declined(INVALID_STATE, "No such PaymentIntent.")
        if intent.status == "requires_confirmation":
            try:
                intent = await self._client.v1.payment_intents.confirm_async(
                    intent.id,
                    {"expand": ["latest_charge"]},
                    {"idempotency_key": request.idempotency_key},
                )
            except stripe.StripeError as error:
                return answer(error, missing=INVALID_STATE)
        return self._authorization(intent)

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        amount = stripe_amount(request.amount)
        if amount is None:
            return inexact(request.amount)
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                request.gateway_payment_id,
                {"amount_to_capture": amount},
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            return answer(error, missing=INVALID_STATE)
        return self._settled(intent, "succeeded", _id(intent.latest_charge) or intent.id)

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        try:
            intent = await self._client.v1.payment_intents.cancel_async(
                request.gateway_payment_id, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            return answer(error, missing=INVALID_STATE)
        return self._settled(intent, "canceled", intent.id)

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        amount = stripe_amount(request.amount)
        if amount is None:
            return inexact(request.amount)
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": request.gateway_payment_id,
                    "amount": amount,
                    "metadata": {KEY: request.idempotency_key},
                },
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            return answer(error, missing=INVALID_STATE)
        return _refunded(refund)

    # --- reads ----------------------------------------------------------------------------
    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        payment_id = request.gateway_payment_id
        if request.operation is TransactionType.AUTHORIZATION:
            intent = await (
                self._intent(payment_id)
                if payment_id
                else self._find_intent(request.idempotency_key)
            )
            return None if intent is None else self._authorization(intent, settled=True)
        if payment_id is None:
            return None  # nothing can have been sent without the PaymentIntent's id
        if request.operation is TransactionType.REFUND:
            refund = await self._find_refund(payment_id, request.idempotency_key)
            return None if refund is None else _refunded(refund)
        intent = await self._intent(payment_id)
        done = "succeeded" if request.operation is TransactionType.CAPTURE else "canceled"
        if intent is None or intent.status != done:
            return None
        reference = _id(intent.latest_charge) if done == "succeeded" else intent.id
        return GatewayOutcome.succeeded(reference or intent.id)

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        """Create the user's Customer the first time (our user id in its metadata), then
        attach the PaymentMethod to it: a PaymentMethod without a Customer is single-use."""
        customer = request.customer_reference
        try:
            if customer is None:
                created = await self._client.v1.customers.create_async(
                    params={"metadata": {"owner_id": request.owner_id}},
                    options={"idempotency_key": f"{request.idempotency_key}:customer"},
                )
                customer = created.id
            await self._client.v1.payment_methods.attach_async(
                request.token,
                params={"customer": customer},
                options={"idempotency_key": f"{request.idempotency_key}:attach"},
            )
        except stripe.CardError as error:  # the issuer refused the card when it was saved
            refused = answer(error, missing="PAYMENT_METHOD_TOKEN_INVALID")
            raise PaymentDeclined(
                refused.failure_code or "CARD_DECLINED",
                refused.failure_reason or "the card was declined",
                metadata={"gateway": "STRIPE"},
            ) from error
        except stripe.StripeError as error:
            if is_not_found(error):
                raise InvalidPaymentMethodToken(
                    "Stripe does not know this payment method token",
                    violations=[FieldViolation("payment_method_token", "is not a known token")],
                ) from error
            raise failure(error, mutating=True) from error
        return customer

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails:
        if not method_type.is_card:
            return PaymentMethodDetails(type=method_type)
        try:
            method = await self._client.v1.payment_methods.retrieve_async(token)
        except stripe.StripeError as error:
            if not is_not_found(error):
                raise failure(error, mutating=False) from error
            method = None
        card = method.card if method is not None else None
        if card is None:
            raise InvalidPaymentMethodToken(
                "Stripe does not know this card payment method token",
                violations=[FieldViolation("payment_method_token", "is not a known token")],
            )
        return PaymentMethodDetails(
            method_type,
            card.brand,
            card.last4,
            card.exp_month,
            card.exp_year,
            # Stripe's fingerprint is the same for every PaymentMethod of one card number.
            card_fingerprint=getattr(card, "fingerprint", None) or None,
        )

    # --- helpers --------------------------------------------------------------------------
    def _authorization(
        self, intent: stripe.PaymentIntent, *, settled: bool = False
    ) -> GatewayOutcome:
        sent = _metadata(intent).get(exemptions.STRIPE_METADATA)
        outcome = self._authorization_status(intent, settled=settled)
        return replace(outcome, sca_exemption_sent=sent) if sent else outcome

    def _authorization_status(
        self, intent: stripe.PaymentIntent, *, settled: bool
    ) -> GatewayOutcome:
        status = intent.status
        if status in ("requires_capture", "succeeded"):
            return GatewayOutcome(
                OutcomeStatus.SUCCEEDED, intent.id, liability_shift=_liability_shift(intent)
            )
        if status == "requires_action":
            action = bank_transfer.instructions_action(intent.next_action, intent.currency)
            return GatewayOutcome(
                OutcomeStatus.REQUIRES_ACTION,
                intent.id,
                next_action=action or self._next_action(intent),
            )
        error = intent.last_payment_error
        if status == "requires_payment_method" and error is not None:
            code, declined = getattr(error, "code", None), getattr(error, "decline_code", None)
            return decline(code, declined, getattr(error, "message", None), intent.id)
        if status == "processing":
            # Not settled yet: a lookup is asked again later, a live call is reconciled.
            unsettled = GatewayUnavailable if settled else GatewayOutcomeUnknown
            raise unsettled("Stripe is still processing the payment", metadata=GATEWAY)
        return GatewayOutcome.declined(INVALID_STATE, f"The PaymentIntent is {status}.", intent.id)

    def _next_action(self, intent: stripe.PaymentIntent) -> NextAction:
        redirect = getattr(intent.next_action, "redirect_to_url", None)
        url = getattr(redirect, "url", None)
        if not url:  # Stripe.js completes the action with the client secret
            query = {
                "payment_intent": intent.id,
                "payment_intent_client_secret": intent.client_secret,
            }
            url = f"{self._next_action_url}?{urlencode(query)}"
        return NextAction(NextActionType.REDIRECT_TO_URL, str(url))

    @staticmethod
    def _settled(intent: stripe.PaymentIntent, status: str, reference: str) -> GatewayOutcome:
        if intent.status == status:
            return GatewayOutcome.succeeded(reference)
        raise GatewayOutcomeUnknown(
            f"Stripe left the PaymentIntent {intent.status}; it will be reconciled",
            metadata=GATEWAY,
        )

    async def _intent(self, payment_id: str) -> stripe.PaymentIntent | None:
        try:
            return await self._client.v1.payment_intents.retrieve_async(
                payment_id, {"expand": ["latest_charge"]}
            )
        except stripe.StripeError as error:
            if is_not_found(error):
                return None
            raise failure(error, mutating=False) from error

    async def _find_intent(self, key: str) -> stripe.PaymentIntent | None:
        try:
            page = await self._client.v1.payment_intents.list_async({"limit": 100})
            seen = 0
            async for intent in page.auto_paging_iter():
                if _metadata(intent).get(KEY) == key:
                    return intent
                seen += 1
                if seen >= self._scan_limit:
                    break
            if not self._search_api:
                return None
            quoted = key.replace("\\", "\\\\").replace("'", "\\'")
            found = await self._client.v1.payment_intents.search_async(
                {"query": f"metadata['{KEY}']:'{quoted}'", "limit": 1}
            )
        except stripe.StripeError as error:
            raise failure(error, mutating=False) from error
        return found.data[0] if found.data else None

    async def _find_refund(self, payment_id: str, key: str) -> stripe.Refund | None:
        try:
            page = await self._client.v1.refunds.list_async(
                {"payment_intent": payment_id, "limit": 100}
            )
            async for refund in page.auto_paging_iter():
                if _metadata(refund).get(KEY) == key:
                    return refund
        except stripe.StripeError as error:
            if is_not_found(error):
                return None
            raise failure(error, mutating=False) from error
        return None
