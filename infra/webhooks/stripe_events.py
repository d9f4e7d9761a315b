"""Stripe event JSON → GatewayEvent (docs.stripe.com/api/events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.enums import GatewayName
from domain.webhooks import DisputeFact, GatewayEvent, GatewayEventKind, RefundFact
from infra.gateways.stripe_amounts import from_stripe_minor
from infra.gateways.stripe_bank_transfer import instructions_action
from infra.webhooks.parsing import integer, load_event, obj, required_text, text

K = GatewayEventKind

_INTENT_KINDS = {
    "payment_intent.succeeded": K.CAPTURED,
    "payment_intent.payment_failed": K.FAILED,
    "payment_intent.requires_action": K.REQUIRES_ACTION,
    # A bank transfer paid in part: the payment waits on, for less.
    "payment_intent.partially_funded": K.REQUIRES_ACTION,
    "payment_intent.canceled": K.CANCELLED,
    "payment_intent.amount_capturable_updated": K.AUTHORIZED,
}


def _currency(value: Any) -> str | None:
    currency = text(value, "currency")
    return currency.upper() if currency else None


def _intent_event(base: dict[str, Any], kind: GatewayEventKind, intent: Any) -> GatewayEvent:
    currency = _currency(intent)
    received = integer(intent, "amount_received") or integer(intent, "amount")
    error = obj(intent, "last_payment_error")
    code = text(error, "decline_code") or text(error, "code")
    return GatewayEvent(
        **base,
        kind=kind,
        gateway_payment_id=text(intent, "id"),
        reference=text(intent, "latest_charge"),
        amount_minor=from_stripe_minor(received, currency),
        currency=currency,
        failure_code=code.upper() if code else None,
        failure_reason=text(error, "message") or text(intent, "cancellation_reason"),
        next_action_url=text(obj(obj(intent, "next_action"), "redirect_to_url"), "url") or "",
        next_action=instructions_action(obj(intent, "next_action"), currency or ""),
    )


def _refunds_event(base: dict[str, Any], charge: Any) -> GatewayEvent:
    currency = _currency(charge)
    facts = []
    for refund in obj(charge, "refunds").get("data") or []:
        reference, amount = text(refund, "id"), integer(refund, "amount")
        if reference and amount and text(refund, "status") in (None, "succeeded"):
            facts.append(RefundFact(reference, from_stripe_minor(amount, currency) or 0))
    charge_id = text(charge, "id")
    return GatewayEvent(
        **base,
        kind=K.REFUNDED,
        gateway_payment_id=text(charge, "payment_intent"),
        related_ids=(charge_id,) if charge_id else (),
        reference=charge_id,
        currency=currency,
        refunds=tuple(facts),
        refunded_total_minor=from_stripe_minor(integer(charge, "amount_refunded"), currency),
    )


def _refund_updated(base: dict[str, Any], refund: Any) -> GatewayEvent:
    currency, reference = _currency(refund), text(refund, "id")
    amount = from_stripe_minor(integer(refund, "amount"), currency)
    done = text(refund, "status") == "succeeded" and reference and amount
    charge = text(refund, "charge")
    return GatewayEvent(
        **base,
        kind=K.REFUNDED if done else K.INFORMATIONAL,
        gateway_payment_id=text(refund, "payment_intent"),
        related_ids=(charge,) if charge else (),
        reference=reference,
        currency=currency,
        refunds=(RefundFact(reference, amount),) if done and reference and amount else (),
    )


def _dispute_event(base: dict[str, Any], kind: GatewayEventKind, dispute: Any) -> GatewayEvent:
    currency = _currency(dispute) or ""
    charge = text(dispute, "charge")
    return GatewayEvent(
        **base,
        kind=kind,
        gateway_payment_id=text(dispute, "payment_intent"),
        related_ids=(charge,) if charge else (),
        reference=text(dispute, "id"),
        dispute=DisputeFact(
            gateway_dispute_id=required_text(dispute, "id"),
            amount_minor=from_stripe_minor(integer(dispute, "amount"), currency) or 0,
            currency=currency,
            reason=text(dispute, "reason") or "",
            status=text(dispute, "status") or "",
        ),
    )


def stripe_event(body: bytes) -> GatewayEvent:
    event = load_event(body)
    created = integer(event, "created")
    base: dict[str, Any] = {
        "gateway": GatewayName.STRIPE,
        "event_id": required_text(event, "id"),
        "type": required_text(event, "type"),
        "occurred_at": datetime.fromtimestamp(created or 0, UTC),
        "payload": event,
    }
    kind_name, data = base["type"], obj(obj(event, "data"), "object")
    if kind_name in _INTENT_KINDS:
        return _intent_event(base, _INTENT_KINDS[kind_name], data)
    if kind_name == "charge.refunded":
        return _refunds_event(base, data)
    if kind_name == "charge.refund.updated":
        return _refund_updated(base, data)
    if kind_name == "charge.dispute.created":
        return _dispute_event(base, K.DISPUTE_OPENED, data)
    if kind_name == "charge.dispute.closed":
        return _dispute_event(base, K.DISPUTE_CLOSED, data)
    intent = text(data, "payment_intent") or (
        text(data, "id") if (text(data, "id") or "").startswith("pi_") else None
    )
    return GatewayEvent(**base, kind=K.INFORMATIONAL, gateway_payment_id=intent)
