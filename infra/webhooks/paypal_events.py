"""PayPal webhook event JSON → GatewayEvent (developer.paypal.com/api/rest/webhooks/)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.enums import GatewayName
from domain.ports import CurrencyCatalog
from domain.webhooks import DisputeFact, GatewayEvent, GatewayEventKind, RefundFact
from infra.webhooks.parsing import load_event, obj, required_text, text

K = GatewayEventKind

_KINDS = {
    "PAYMENT.AUTHORIZATION.CREATED": K.AUTHORIZED,
    "PAYMENT.AUTHORIZATION.VOIDED": K.CANCELLED,
    "PAYMENT.CAPTURE.COMPLETED": K.CAPTURED,
    "PAYMENT.CAPTURE.DENIED": K.CAPTURE_FAILED,
    "PAYMENT.CAPTURE.REFUNDED": K.REFUNDED,
    "CUSTOMER.DISPUTE.CREATED": K.DISPUTE_OPENED,
    "CUSTOMER.DISPUTE.RESOLVED": K.DISPUTE_CLOSED,
}


def _minor(amount: Any, currencies: CurrencyCatalog) -> tuple[int | None, str | None]:
    """PayPal's {currency_code, value} in minor units, exactly (never through a float)."""
    currency, value = text(amount, "currency_code"), text(amount, "value")
    exponent = currencies.exponent(currency) if currency else None
    if currency is None or value is None or exponent is None:
        return None, currency
    try:
        scaled = Decimal(value).scaleb(exponent)
    except InvalidOperation:
        return None, currency
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        return None, currency
    return int(scaled), currency


def _time(value: str | None) -> datetime:
    try:
        return datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _up_link_id(resource: Any) -> str | None:
    """The id at the end of the `up` link (a refund's capture)."""
    for link in resource.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up":
            href = text(link, "href") or ""
            return href.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def paypal_event(body: bytes, currencies: CurrencyCatalog) -> GatewayEvent:
    event = load_event(body)
    type_ = required_text(event, "event_type")
    resource = obj(event, "resource")
    kind = _KINDS.get(type_, K.INFORMATIONAL)
    related = obj(obj(resource, "supplementary_data"), "related_ids")
    resource_id = text(resource, "id")
    order_id = text(related, "order_id")
    if type_.startswith("CHECKOUT.ORDER."):
        order_id = resource_id
    ids = [text(related, "authorization_id"), text(related, "capture_id"), resource_id]
    amount, currency = _minor(obj(resource, "amount"), currencies)
    refunds: tuple[RefundFact, ...] = ()
    if kind is K.REFUNDED:
        ids.insert(0, _up_link_id(resource))
        if resource_id and amount:
            refunds = (RefundFact(resource_id, amount),)
    dispute = None
    if kind in (K.DISPUTE_OPENED, K.DISPUTE_CLOSED):
        disputed = resource.get("disputed_transactions") or []
        ids = [text(t, "seller_transaction_id") for t in disputed if isinstance(t, dict)]
        amount, currency = _minor(obj(resource, "dispute_amount"), currencies)
        dispute = DisputeFact(
            gateway_dispute_id=required_text(resource, "dispute_id"),
            amount_minor=amount or 0,
            currency=currency or "",
            reason=text(resource, "reason") or "",
            status=text(obj(resource, "dispute_outcome"), "outcome_code")
            or text(resource, "status")
            or "",
        )
    return GatewayEvent(
        gateway=GatewayName.PAYPAL,
        event_id=required_text(event, "id"),
        type=type_,
        kind=kind,
        occurred_at=_time(text(event, "create_time")),
        gateway_payment_id=order_id,
        related_ids=tuple(i for i in ids if i),
        reference=resource_id,
        amount_minor=amount,
        currency=currency,
        refunds=refunds,
        failure_reason=text(resource, "status"),
        dispute=dispute,
        payload=event,
    )
