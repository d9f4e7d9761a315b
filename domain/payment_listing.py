"""ListPayments' query and its page tokens.

A page token carries the keyset cursor (create time and id of the last payment shown) and a
fingerprint of what it was made for: the filter, the order and the caller. A token replayed
with another filter, order or caller is refused (INVALID_ARGUMENT on page_token) rather than
silently continuing another listing. The cursor itself is not secret and need not be: it
only says where to resume, and every page is read again under the caller's access rule
(ownership.py adds `user_id = <caller>` for end users), so an edited token can at most skip
around the caller's own payments, never reach another user's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from domain.errors import FieldViolation, ValidationFailed
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor
from domain.payment import Payment
from domain.payment_filter import FilterField, PaymentFilter, Value, parse_filter

ORDERS = {"create_time desc": True, "create_time asc": False, "create_time": False}
_FINGERPRINT_BYTES = 12


@dataclass(frozen=True, slots=True)
class PaymentQuery:
    """What a page of ListPayments reads: the filter, the order, where to resume, how many,
    and (set by the access rule, never by the caller) the one user whose rows are visible."""

    filter: PaymentFilter
    descending: bool = True
    size: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    only_user: str | None = None

    def confined_to(self, user_id: str) -> PaymentQuery:
        return replace(self, only_user=user_id)


def filter_values(payment: Payment) -> dict[FilterField, Value]:
    """The payment's value of each filterable field (for evaluating a filter in memory)."""
    return {
        FilterField.USER_ID: payment.user_id,
        FilterField.STATUS: payment.status,
        FilterField.CURRENCY: payment.currency,
        FilterField.GATEWAY: payment.gateway,
        FilterField.PAYMENT_METHOD_TYPE: payment.payment_method_type,
        FilterField.CREATE_TIME: payment.created_at,
    }


def parse_order(order_by: str) -> bool:
    """True for newest first (the default)."""
    normal = " ".join(order_by.split()).lower()
    if not normal:
        return True
    if normal not in ORDERS:
        raise ValidationFailed(
            [FieldViolation("order_by", 'must be "create_time desc" or "create_time asc"')]
        )
    return ORDERS[normal]


def _fingerprint(flt: PaymentFilter, descending: bool, caller: str) -> str:
    material = json.dumps([flt.canonical(), descending, caller]).encode()
    digest = hashlib.sha256(material).digest()[:_FINGERPRINT_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _bad_token() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldViolation(
                "page_token",
                "is not a token this API returned for this filter, order and caller",
            )
        ]
    )


def encode_token(cursor: Cursor, flt: PaymentFilter, descending: bool, caller: str) -> str:
    raw = json.dumps(
        {
            "t": cursor.created_at.isoformat(),
            "i": cursor.id,
            "f": _fingerprint(flt, descending, caller),
        }
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, flt: PaymentFilter, descending: bool, caller: str) -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(data["t"])
        if moment.tzinfo is None:
            raise ValueError("a cursor time has its offset")
        # In UTC: one out of range once converted would fail in the database driver.
        cursor = Cursor(moment.astimezone(UTC), str(data["i"]))
        fingerprint = str(data["f"])
        uuid.UUID(cursor.id)
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error) as exc:
        raise _bad_token() from exc
    if fingerprint != _fingerprint(flt, descending, caller):
        raise _bad_token()
    return cursor


def payment_query(
    page_size: int, page_token: str, filter_text: str, order_by: str, caller: str
) -> PaymentQuery:
    """The query a ListPayments request asks for; every field's problem is reported."""
    if page_size < 0:
        raise ValidationFailed([FieldViolation("page_size", "must not be negative")])
    flt = parse_filter(filter_text)
    descending = parse_order(order_by)
    after = decode_token(page_token, flt, descending, caller) if page_token else None
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return PaymentQuery(flt, descending, size, after)
