"""ListDisputes' filter, query and page tokens.

The filter is the AIP-160 subset of ListPayments (domain/payment_filter.py: the same
tokenizer, operators, quoting and error messages) over a dispute's fields:
  status       = !=             DISPUTE_STATUS_OPENED (or OPENED)
  payment_id   = !=             a UUID
  gateway      = !=             GATEWAY_STRIPE (or STRIPE)
  create_time  = != < <= > >=   an RFC 3339 timestamp with its offset
Pages are newest first. A page token is bound to the filter and the caller that got it, like
ListPayments' (domain/payment_listing.py); the access rule (ownership.py) confines an end
user's listing to the disputes of their own payments in the SQL itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from domain.dispute import DisputeStatus
from domain.enums import GatewayName
from domain.errors import FieldViolation, ValidationFailed
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor

# The payment filter's reader, shared so that both lists speak exactly one dialect.
from domain.payment_filter import (
    _UNSUPPORTED_WORDS,
    Operator,
    _timestamp,
    _Token,
    _unquote,
    comparisons_of,
    invalid,
)


class DisputeField(StrEnum):
    STATUS = "status"
    PAYMENT_ID = "payment_id"
    GATEWAY = "gateway"
    CREATE_TIME = "create_time"


_EQUALITY = frozenset({Operator.EQ, Operator.NE})
DisputeValue = str | datetime


@dataclass(frozen=True, slots=True)
class DisputeComparison:
    field: DisputeField
    op: Operator
    value: DisputeValue


@dataclass(frozen=True, slots=True)
class DisputeFilter:
    comparisons: tuple[DisputeComparison, ...] = ()

    def canonical(self) -> str:
        def spell(value: DisputeValue) -> str:
            return value.isoformat() if isinstance(value, datetime) else str(value)

        return " AND ".join(sorted(f"{c.field} {c.op} {spell(c.value)}" for c in self.comparisons))


@dataclass(frozen=True, slots=True)
class DisputeQuery:
    """A page of ListDisputes: newest first, after `after`; `only_user` is set by the access
    rule, never by the caller."""

    filter: DisputeFilter
    size: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    only_user: str | None = None

    def confined_to(self, user_id: str) -> DisputeQuery:
        return replace(self, only_user=user_id)


def parse_dispute_filter(text: str) -> DisputeFilter:
    return DisputeFilter(comparisons_of(text, _comparison))


def _comparison(tokens: list[_Token]) -> DisputeComparison:
    if not tokens or tokens[0].kind != "word":
        raise invalid(
            "expected a field name" if tokens else "ends with AND: a comparison must follow"
        )
    name = tokens[0].text
    if name in _UNSUPPORTED_WORDS:
        raise invalid(_UNSUPPORTED_WORDS[name])
    try:
        field = DisputeField(name)
    except ValueError:
        known = ", ".join(f.value for f in DisputeField)
        raise invalid(f'unknown field "{name[:64]}"; filterable fields: {known}') from None
    if len(tokens) < 2 or tokens[1].kind != "op":
        raise invalid(f"expected a comparison operator after {field}")
    op = Operator(tokens[1].text)
    if field is not DisputeField.CREATE_TIME and op not in _EQUALITY:
        raise invalid(f"{field} does not support {op}; use = or !=")
    if len(tokens) < 3 or tokens[2].kind not in ("string", "word"):
        raise invalid(f"expected a value after {field} {op}")
    return DisputeComparison(field, op, _value(field, _unquote(tokens[2])))


def _value(field: DisputeField, raw: str) -> DisputeValue:
    if field is DisputeField.CREATE_TIME:
        return _timestamp(raw)
    if field is DisputeField.PAYMENT_ID:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise invalid(f'payment_id must be a UUID, not "{raw[:64]}"') from None
    enum_type: type[StrEnum]
    enum_type, prefix = (
        (DisputeStatus, "DISPUTE_STATUS_")
        if field is DisputeField.STATUS
        else (GatewayName, "GATEWAY_")
    )
    try:
        return enum_type(raw.removeprefix(prefix))
    except ValueError:
        known = ", ".join(prefix + m.value for m in enum_type)
        raise invalid(f'{field} has no value "{raw[:64]}"; one of {known}') from None


def _fingerprint(flt: DisputeFilter, caller: str) -> str:
    material = json.dumps(["disputes", flt.canonical(), caller]).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest()[:12]).decode().rstrip("=")


def _bad_token() -> ValidationFailed:
    return ValidationFailed(
        [
            FieldViolation(
                "page_token", "is not a token this API returned for this filter and caller"
            )
        ]
    )


def encode_dispute_token(cursor: Cursor, flt: DisputeFilter, caller: str) -> str:
    raw = {"t": cursor.created_at.isoformat(), "i": cursor.id, "f": _fingerprint(flt, caller)}
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _decode_token(token: str, flt: DisputeFilter, caller: str) -> Cursor:
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        moment = datetime.fromisoformat(data["t"])
        if moment.tzinfo is None:
            raise ValueError("a cursor time has its offset")
        cursor = Cursor(moment.astimezone(UTC), str(uuid.UUID(str(data["i"]))))
        fingerprint = str(data["f"])
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error) as exc:
        raise _bad_token() from exc
    if fingerprint != _fingerprint(flt, caller):
        raise _bad_token()
    return cursor


def dispute_query(page_size: int, page_token: str, filter_text: str, caller: str) -> DisputeQuery:
    """The query a ListDisputes request asks for."""
    if page_size < 0:
        raise ValidationFailed([FieldViolation("page_size", "must not be negative")])
    flt = parse_dispute_filter(filter_text)
    after = _decode_token(page_token, flt, caller) if page_token else None
    return DisputeQuery(flt, min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), after)
