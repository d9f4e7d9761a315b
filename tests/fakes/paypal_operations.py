"""What the fake PayPal does for each endpoint, with PayPal's documented 4xx issues."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fakes.http_server import Response
from tests.fakes.paypal_resources import (
    Authorization,
    Capture,
    Order,
    Refund,
    decimals,
    new_id,
    timestamp,
)

UNPROCESSABLE = (
    "The requested action could not be performed, semantically incorrect, or failed "
    "business validation."
)
_VALUE = re.compile(r"^[0-9]{1,32}(\.[0-9]+)?\Z")


def paypal_error(
    status: int, name: str, message: str, issue: str | None = None, description: str = ""
) -> Response:
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(7)}
    if issue is not None:
        body["details"] = [{"issue": issue, "description": description or issue}]
        body["links"] = [
            {
                "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                "rel": "information_link",
                "method": "GET",
            }
        ]
    return Response(status, body, {"PayPal-Debug-Id": body["debug_id"]})


def _valid_stored_credential(stored: Any) -> bool:
    """PayPal's paypal_wallet_stored_credential: payment_initiator is required."""
    return (
        isinstance(stored, dict)
        and stored.get("payment_initiator") in ("CUSTOMER", "MERCHANT")
        and stored.get("usage", "DERIVED") in ("FIRST", "SUBSEQUENT", "DERIVED")
    )


def unprocessable(issue: str, description: str) -> Response:
    return paypal_error(422, "UNPROCESSABLE_ENTITY", UNPROCESSABLE, issue, description)


def not_found() -> Response:
    return paypal_error(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist. Please check the resource ID and try again.",
    )


def invalid_request(issue: str, description: str) -> Response:
    return paypal_error(
        400,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        issue,
        description,
    )


def parse_amount(amount: Any) -> tuple[str, Decimal] | Response:
    """PayPal's checks of a money object: a positive decimal string with no more decimals
    than the currency has."""
    if not isinstance(amount, dict) or not isinstance(amount.get("value"), str):
        return invalid_request("MISSING_REQUIRED_PARAMETER", "amount/value is required.")
    currency, value = str(amount.get("currency_code", "")), amount["value"]
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return invalid_request("INVALID_PARAMETER_VALUE", "currency_code is not ISO 4217.")
    if not _VALUE.match(value):
        return invalid_request("INVALID_PARAMETER_SYNTAX", f"{value!r} is not a decimal.")
    places = len(value.partition(".")[2])
    if places and decimals(currency) == 0:
        return unprocessable("DECIMALS_NOT_SUPPORTED", f"{currency} takes no decimals.")
    if places > decimals(currency):
        return unprocessable("DECIMAL_PRECISION", f"{currency} has {decimals(currency)}.")
    if Decimal(value) <= 0:
        return unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
    return currency, Decimal(value)


@dataclass(frozen=True)
class Wallet:
    email: str
    issue: str | None  # 422 issue of every authorization
    denial: str  # processor response code of a DENIED authorization ("" approves)


class PayPalOperations:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.authorizations: dict[str, Authorization] = {}
        self.captures: dict[str, Capture] = {}
        self.refunds: dict[str, Refund] = {}
        self._declined: dict[str, str] = {}  # order id -> issue
        self._denied: dict[str, str] = {}  # order id -> processor response code
        self.wallets: dict[str, Wallet] = {}  # vault payment token id -> saved wallet
        # transmission id -> (webhook id, event id) of every webhook this PayPal sent
        self.sent_webhooks: dict[str, tuple[str, str]] = {}

    @property
    def url(self) -> str:
        raise NotImplementedError

    # Where buyers approve orders: a web page, never fetched by the tests.
    site = "https://www.sandbox.paypal.com"

    # --- the buyer and the bank -------------------------------------------------------------
    def approve(self, order_id: str, email: str = "buyer@example.com") -> None:
        """The buyer logs in at the approval link and approves the order."""
        order = self.orders[order_id]
        assert order.status in ("CREATED", "PAYER_ACTION_REQUIRED"), order.status
        order.status, order.payer_email = "APPROVED", email

    def decline(self, order_id: str, issue: str = "INSTRUMENT_DECLINED") -> None:
        """Authorizing this order fails with 422 `issue`."""
        self._declined[order_id] = issue

    def deny(self, order_id: str, response_code: str = "5120") -> None:
        """This order's authorization comes back DENIED (5120: insufficient funds)."""
        self._denied[order_id] = response_code

    def save_wallet(
        self, *, email: str = "buyer@example.com", issue: str | None = None, denial: str = ""
    ) -> str:
        """A buyer's PayPal wallet saved in the vault: its payment token id. Authorizations
        with it fail with 422 `issue`, or come back DENIED with processor code `denial`."""
        vault_id = secrets.token_hex(4)
        self.wallets[vault_id] = Wallet(email, issue, denial)
        return vault_id

    # --- orders -----------------------------------------------------------------------------
    def create_order(self, body: dict[str, Any], prefer: str) -> Response:
        units = body.get("purchase_units")
        if body.get("intent") not in ("CAPTURE", "AUTHORIZE") or not units:
            return invalid_request("MISSING_REQUIRED_PARAMETER", "intent and purchase_units.")
        if body["intent"] == "AUTHORIZE" and len(units) != 1:
            return unprocessable("MULTIPLE_PURCHASE_UNITS_NOT_SUPPORTED", "One unit only.")
        parsed = parse_amount(units[0].get("amount"))
        if isinstance(parsed, Response):
            return parsed
        currency, value = parsed
        with_source = "paypal" in (body.get("payment_source") or {})
        status = "PAYER_ACTION_REQUIRED" if with_source else "CREATED"
        order = Order(new_id(), body["intent"], dict(units[0]), currency, value, with_source)
        order.status = status
        self.orders[order.id] = order
        return Response(201, self._order_json(order, prefer))

    def _order_json(self, order: Order, prefer: str) -> dict[str, Any]:
        full = order.json(self.url, self.site)
        if prefer == "return=representation":
            return full
        return {key: full[key] for key in ("id", "status", "links")}

    def show_order(self, order_id: str, _body: Any, _prefer: str) -> Response:
        order = self.orders.get(order_id)
        if order is None:
            return not_found()
        return Response(200, order.json(self.url, self.site))

    def authorize_order(self, order_id: str, body: Any, prefer: str) -> Response:
        order = self.orders.get(order_id)
        if order is None:
            return not_found()
        if order.intent != "AUTHORIZE":
            return unprocessable("ACTION_DOES_NOT_MATCH_INTENT", "The intent is CAPTURE.")
        if order.authorization is not None:
            return unprocessable("ORDER_ALREADY_AUTHORIZED", "Order already authorized.")
        wallet = (body.get("payment_source") or {}).get("paypal") or {}
        vault_id = wallet.get("vault_id")
        stored = wallet.get("stored_credential")
        if stored is not None and not _valid_stored_credential(stored):
            return invalid_request("INVALID_PARAMETER_VALUE", "stored_credential is invalid.")
        if vault_id is not None:
            return self._authorize_with_wallet(order, vault_id, prefer)
        if order.status == "PAYER_ACTION_REQUIRED":
            return unprocessable("PAYER_ACTION_REQUIRED", "The payer must approve the order.")
        if order.status != "APPROVED":
            return unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order.")
        if order_id in self._declined:
            issue = self._declined[order_id]
            return unprocessable(issue, "The instrument presented was declined.")
        return self._authorized(order, self._denied.get(order_id, ""), prefer)

    def _authorize_with_wallet(self, order: Order, vault_id: str, prefer: str) -> Response:
        """A saved wallet pays without the buyer: no approval needed."""
        wallet = self.wallets.get(vault_id)
        if wallet is None:
            return unprocessable("TOKEN_ID_NOT_FOUND", "Specified token was not found.")
        if wallet.issue is not None:
            return unprocessable(wallet.issue, "The instrument presented was declined.")
        order.payer_email = wallet.email
        return self._authorized(order, wallet.denial, prefer)

    def _authorized(self, order: Order, denial: str, prefer: str) -> Response:
        authorization = Authorization(
            new_id(), order.id, order.currency, order.amount, order.unit.get("custom_id")
        )
        if denial:
            authorization.status = "DENIED"
            authorization.processor_response = {"response_code": denial}
        order.authorization, order.status = authorization, "COMPLETED"
        self.authorizations[authorization.id] = authorization
        return Response(201, self._order_json(order, prefer))

    # --- payments ---------------------------------------------------------------------------
    def show_authorization(self, authorization_id: str, _body: Any, _prefer: str) -> Response:
        found = self.authorizations.get(authorization_id)
        return not_found() if found is None else Response(200, found.json(self.url))

    def capture_authorization(self, authorization_id: str, body: Any, prefer: str) -> Response:
        auth = self.authorizations.get(authorization_id)
        if auth is None:
            return not_found()
        problem = {
            "VOIDED": ("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured."),
            "CAPTURED": ("AUTHORIZATION_ALREADY_CAPTURED", "Authorization already captured."),
            "DENIED": ("AUTHORIZATION_DENIED", "A denied authorization cannot be captured."),
        }.get(auth.status)
        if problem is not None:
            return unprocessable(*problem)
        remaining = auth.amount - auth.captured
        currency, value = auth.currency, remaining
        if "amount" in body:
            parsed = parse_amount(body["amount"])
            if isinstance(parsed, Response):
                return parsed
            currency, value = parsed
        if currency != auth.currency:
            return unprocessable("AUTH_CAPTURE_CURRENCY_MISMATCH", "Currency mismatch.")
        if value > remaining:
            return unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Exceeds the authorization.")
        final = bool(body.get("final_capture", False))
        capture = Capture(new_id(), auth.id, auth.order_id, currency, value, final)
        auth.captured += value
        auth.status = "CAPTURED" if final or auth.captured == auth.amount else "PARTIALLY_CAPTURED"
        self.captures[capture.id] = capture
        self.orders[auth.order_id].captures.append(capture)
        return Response(201, self._minimal(capture.json(self.url), prefer))

    def void_authorization(self, authorization_id: str, _body: Any, prefer: str) -> Response:
        auth = self.authorizations.get(authorization_id)
        if auth is None:
            return not_found()
        if auth.status in ("CAPTURED", "PARTIALLY_CAPTURED"):
            return unprocessable("PREVIOUSLY_CAPTURED", "Authorization has been captured.")
        if auth.status == "VOIDED":
            return unprocessable("PREVIOUSLY_VOIDED", "Authorization has been voided.")
        auth.status = "VOIDED"
        auth.void_time = timestamp()
        self.orders[auth.order_id].status = "VOIDED"
        if prefer == "return=representation":
            return Response(200, auth.json(self.url))
        return Response(204)

    def show_capture(self, capture_id: str, _body: Any, _prefer: str) -> Response:
        found = self.captures.get(capture_id)
        return not_found() if found is None else Response(200, found.json(self.url))

    def refund_capture(self, capture_id: str, body: Any, prefer: str) -> Response:
        capture = self.captures.get(capture_id)
        if capture is None:
            return not_found()
        if capture.status == "REFUNDED":
            return unprocessable("CAPTURE_FULLY_REFUNDED", "The capture is fully refunded.")
        remaining = capture.amount - capture.refunded
        currency, value = capture.currency, remaining
        if "amount" in body:
            parsed = parse_amount(body["amount"])
            if isinstance(parsed, Response):
                return parsed
            currency, value = parsed
        if currency != capture.currency:
            return unprocessable("REFUND_CAPTURE_CURRENCY_MISMATCH", "Currency mismatch.")
        if value > remaining:
            return unprocessable("REFUND_AMOUNT_EXCEEDED", "Exceeds the captured amount.")
        refund = Refund(
            new_id(), capture.id, currency, value, body.get("custom_id"), body.get("invoice_id")
        )
        capture.refunded += value
        full = capture.refunded == capture.amount
        capture.status = "REFUNDED" if full else "PARTIALLY_REFUNDED"
        self.refunds[refund.id] = refund
        self.orders[capture.order_id].refunds.append(refund)
        return Response(201, self._minimal(refund.json(self.url), prefer))

    def show_refund(self, refund_id: str, _body: Any, _prefer: str) -> Response:
        found = self.refunds.get(refund_id)
        return not_found() if found is None else Response(200, found.json(self.url))

    def send_webhook(self, event: dict[str, Any], webhook_id: str) -> dict[str, str]:
        """The transmission headers PayPal sends with `event` to the subscription
        `webhook_id`; only PayPal's verify-webhook-signature API can check them here."""
        transmission = secrets.token_hex(8)
        self.sent_webhooks[transmission] = (webhook_id, str(event["id"]))
        return {
            "paypal-transmission-id": transmission,
            "paypal-transmission-time": "2026-11-26T05:00:00Z",
            "paypal-transmission-sig": secrets.token_urlsafe(32),
            "paypal-cert-url": "https://api.paypal.com/v1/notifications/certs/CERT-fake",
            "paypal-auth-algo": "SHA256withRSA",
        }

    def verify_webhook_signature(self, body: Any, _prefer: str) -> Response:
        """POST /v1/notifications/verify-webhook-signature."""
        sent = self.sent_webhooks.get(str(body.get("transmission_id")))
        event = body.get("webhook_event") or {}
        genuine = sent == (body.get("webhook_id"), event.get("id"))
        return Response(200, {"verification_status": "SUCCESS" if genuine else "FAILURE"})

    @staticmethod
    def _minimal(full: dict[str, Any], prefer: str) -> dict[str, Any]:
        if prefer == "return=representation":
            return full
        return {key: full[key] for key in ("id", "status", "links")}
