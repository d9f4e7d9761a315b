"""PayPal's resources as the fake keeps them, and their JSON as PayPal documents it
(Orders v2 order, Payments v2 authorization, capture and refund).

Amounts are `Decimal`s; their JSON is a string with the currency's decimals."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

# PayPal's currency codes reference: every currency it takes has two decimals, except these,
# taken in whole units only.
WHOLE_UNITS_ONLY = frozenset({"HUF", "JPY", "TWD"})


def decimals(currency: str) -> int:
    return 0 if currency in WHOLE_UNITS_ONLY else 2


def money(currency: str, value: Decimal) -> dict[str, str]:
    return {"currency_code": currency, "value": f"{value:.{decimals(currency)}f}"}


def new_id() -> str:
    """17 upper-case alphanumerics, like PayPal's ids."""
    return secrets.token_hex(9).upper()[:17]


def timestamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


@dataclass
class Refund:
    id: str
    capture_id: str
    currency: str
    amount: Decimal
    custom_id: str | None
    invoice_id: str | None
    status: str = "COMPLETED"
    create_time: str = field(default_factory=timestamp)

    def json(self, api: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "amount": money(self.currency, self.amount),
            "create_time": self.create_time,
            "update_time": self.create_time,
            "links": [
                _link(f"{api}/v2/payments/refunds/{self.id}", "self"),
                _link(f"{api}/v2/payments/captures/{self.capture_id}", "up"),
            ],
        }
        if self.custom_id:
            body["custom_id"] = self.custom_id
        if self.invoice_id:
            body["invoice_id"] = self.invoice_id
        return body


@dataclass
class Capture:
    id: str
    authorization_id: str
    order_id: str
    currency: str
    amount: Decimal
    final_capture: bool
    status: str = "COMPLETED"
    refunded: Decimal = Decimal(0)
    create_time: str = field(default_factory=timestamp)

    def json(self, api: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "amount": money(self.currency, self.amount),
            "final_capture": self.final_capture,
            "seller_protection": {"status": "ELIGIBLE"},
            "supplementary_data": {
                "related_ids": {
                    "order_id": self.order_id,
                    "authorization_id": self.authorization_id,
                }
            },
            "create_time": self.create_time,
            "update_time": self.create_time,
            "links": [
                _link(f"{api}/v2/payments/captures/{self.id}", "self"),
                _link(f"{api}/v2/payments/captures/{self.id}/refund", "refund", "POST"),
                _link(f"{api}/v2/payments/authorizations/{self.authorization_id}", "up"),
            ],
        }


@dataclass
class Authorization:
    id: str
    order_id: str
    currency: str
    amount: Decimal
    custom_id: str | None
    status: str = "CREATED"
    captured: Decimal = Decimal(0)
    processor_response: dict[str, str] | None = None
    create_time: str = field(default_factory=timestamp)
    void_time: str | None = None  # for the transaction search's T1302
    expiration_time: str = field(default_factory=lambda: timestamp(timedelta(days=29)))

    def json(self, api: str) -> dict[str, Any]:
        base = f"{api}/v2/payments/authorizations/{self.id}"
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "amount": money(self.currency, self.amount),
            "seller_protection": {"status": "ELIGIBLE"},
            "supplementary_data": {"related_ids": {"order_id": self.order_id}},
            "expiration_time": self.expiration_time,
            "create_time": self.create_time,
            "update_time": self.create_time,
            "links": [
                _link(base, "self"),
                _link(f"{base}/capture", "capture", "POST"),
                _link(f"{base}/void", "void", "POST"),
                _link(f"{base}/reauthorize", "reauthorize", "POST"),
                _link(f"{api}/v2/checkout/orders/{self.order_id}", "up"),
            ],
        }
        if self.custom_id:
            body["custom_id"] = self.custom_id
        if self.processor_response:
            body["processor_response"] = self.processor_response
        return body


@dataclass
class Order:
    id: str
    intent: str
    unit: dict[str, Any]  # the purchase unit as requested, amount included
    currency: str
    amount: Decimal
    # Created with payment_source.paypal: PAYER_ACTION_REQUIRED and a payer-action link.
    with_payment_source: bool
    status: str = "CREATED"
    payer_email: str | None = None
    authorization: Authorization | None = None
    captures: list[Capture] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    create_time: str = field(default_factory=timestamp)

    def approval_url(self, site: str) -> str:
        return f"{site}/checkoutnow?token={self.id}"

    def json(self, api: str, site: str) -> dict[str, Any]:
        unit = {"reference_id": "default", **self.unit}
        unit["amount"] = money(self.currency, self.amount)
        if self.authorization is not None:
            unit["payments"] = {
                "authorizations": [self.authorization.json(api)],
                "captures": [capture.json(api) for capture in self.captures],
                "refunds": [refund.json(api) for refund in self.refunds],
            }
        base = f"{api}/v2/checkout/orders/{self.id}"
        links = [_link(base, "self")]
        if self.status in ("CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"):
            rel = "payer-action" if self.with_payment_source else "approve"
            links += [
                _link(self.approval_url(site), rel),
                _link(base, "update", "PATCH"),
                _link(f"{base}/authorize", "authorize", "POST"),
            ]
        body: dict[str, Any] = {
            "id": self.id,
            "intent": self.intent,
            "status": self.status,
            "purchase_units": [unit],
            "create_time": self.create_time,
            "links": links,
        }
        if self.payer_email is not None:
            payer = {"email_address": self.payer_email, "payer_id": "FAKEPAYER" + self.id[:4]}
            body["payer"] = payer
            body["payment_source"] = {
                "paypal": {"email_address": self.payer_email, "account_id": payer["payer_id"]}
            }
        return body
