"""The JSON keys of the payment events the specification lists, and the extras issues 6 and
13 (settlement) allow: what an external consumer of payment.events may rely on."""

from __future__ import annotations

from typing import Any

SPEC_KEYS = {
    "payment.successful": {
        "eventId", "paymentId", "orderId", "amount", "currency", "paymentMethod",
        "transactionId", "timestamp",
    },
    "payment.authorized": {
        "eventId", "paymentId", "orderId", "amount", "currency", "paymentMethod",
        "transactionId", "timestamp",
    },
    "payment.refunded": {"eventId", "paymentId", "refundId", "amount", "timestamp"},
}  # fmt: skip
# What the issue allows on top of the specification's fields.
EXTRA_KEYS = {
    "amountMinor", "currency", "orderId", "transactionId",
    "settlementAmount", "settlementCurrency", "settlementAmountMinor", "exchangeRate",
}  # fmt: skip


def has_spec_shape(event_type: str, event: dict[str, Any]) -> bool:
    """Every key the specification lists is there, and nothing beyond the allowed extras."""
    keys = set(event)
    return SPEC_KEYS[event_type] <= keys and keys - SPEC_KEYS[event_type] <= EXTRA_KEYS
