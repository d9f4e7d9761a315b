"""The `filter` of ListPayments: a small subset of AIP-160 parsed into typed comparisons.

Supported: `field op value` joined by `AND`, where op is one of = != < <= > >=. Values are
quoted ("...") or bare words. Fields and what they take:
  user_id              = !=             a UUID
  status               = !=             PAYMENT_STATUS_CAPTURED (or CAPTURED)
  currency             = !=             an ISO 4217 code, EUR
  gateway              = !=             GATEWAY_STRIPE (or STRIPE)
  payment_method_type  = !=             PAYMENT_METHOD_TYPE_PAYPAL (or PAYPAL)
  create_time          = != < <= > >=   an RFC 3339 timestamp with its offset
Everything else (OR, NOT, parentheses, `:`, functions, other fields) is refused with a
message that names the problem: a filter we half-understand would list the wrong payments.
Pure standard library: the storage adapter turns the comparisons into SQL, the in-memory
fakes evaluate them with `matches`.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from domain.enums import GatewayName, PaymentMethodType, PaymentStatus
from domain.errors import FieldViolation, ValidationFailed

C = TypeVar("C")  # a comparison of one list's filter

MAX_FILTER_LENGTH = 2000
MAX_COMPARISONS = 20


class FilterField(StrEnum):
    USER_ID = "user_id"
    STATUS = "status"
    CURRENCY = "currency"
    GATEWAY = "gateway"
    PAYMENT_METHOD_TYPE = "payment_method_type"
    CREATE_TIME = "create_time"


class Operator(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


_EQUALITY = frozenset({Operator.EQ, Operator.NE})
# Ordering an enum or an id means nothing to a caller: only times compare by order.
_ALLOWED = {f: _EQUALITY for f in FilterField} | {FilterField.CREATE_TIME: frozenset(Operator)}
_PYTHON_OPS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
}
# The API's enum names are the domain's with a prefix (PAYMENT_STATUS_CAPTURED <-> CAPTURED).
_ENUMS: dict[FilterField, tuple[type[StrEnum], str]] = {
    FilterField.STATUS: (PaymentStatus, "PAYMENT_STATUS_"),
    FilterField.GATEWAY: (GatewayName, "GATEWAY_"),
    FilterField.PAYMENT_METHOD_TYPE: (PaymentMethodType, "PAYMENT_METHOD_TYPE_"),
}
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|!=|=|<|>)|(?P<word>[^\s"=!<>()]+)
    |(?P<other>\S))""",
    re.VERBOSE,
)
_UNSUPPORTED_WORDS = {"OR": "OR is not supported", "NOT": "NOT is not supported"}

Value = str | datetime  # enum members are str subclasses


@dataclass(frozen=True, slots=True)
class Comparison:
    field: FilterField
    op: Operator
    value: Value

    def matches(self, actual: Value) -> bool:
        return _PYTHON_OPS[self.op](actual, self.value)


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """Comparisons that must all hold (AND)."""

    comparisons: tuple[Comparison, ...] = ()

    def canonical(self) -> str:
        """One spelling per meaning, for binding a page token to the filter it was made for."""
        parts = sorted(f"{c.field} {c.op} {_spell(c.value)}" for c in self.comparisons)
        return " AND ".join(parts)

    def matches(self, values: dict[FilterField, Value]) -> bool:
        return all(c.matches(values[c.field]) for c in self.comparisons)


def _spell(value: Value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def invalid(problem: str) -> ValidationFailed:
    return ValidationFailed([FieldViolation("filter", problem)])


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, op, word, other
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:  # pragma: no cover - `other` takes all
            raise invalid(f"cannot read position {position + 1}")
        kind = match.lastgroup
        if kind == "other":
            raise invalid(_stray(match.group(kind), match.start(kind) + 1))
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _stray(char: str, position: int) -> str:
    if char == '"':
        return f"unterminated string starting at position {position}"
    if char in "()":
        return "parentheses are not supported: join comparisons with AND"
    return f'unexpected "{char}" at position {position}'


def parse_filter(text: str) -> PaymentFilter:
    """The filter `text` means, or ValidationFailed on `filter` naming the problem."""
    return PaymentFilter(comparisons_of(text, _comparison))


def comparisons_of(text: str, comparison: Callable[[list[_Token]], C]) -> tuple[C, ...]:
    """The comparisons joined by AND that `text` holds, each read by `comparison` from its
    three tokens (field, operator, value); ValidationFailed on `filter` naming the problem.
    The grammar every list's filter shares (payments, disputes); the fields are each one's."""
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid(f"is longer than {MAX_FILTER_LENGTH} characters")
    tokens = _tokens(text)
    comparisons: list[C] = []
    index = 0
    while index < len(tokens):
        if comparisons:
            joiner = tokens[index]
            if joiner.kind == "word" and joiner.text in _UNSUPPORTED_WORDS:
                raise invalid(_UNSUPPORTED_WORDS[joiner.text])
            if joiner.kind != "word" or joiner.text != "AND":
                raise invalid(f'expected AND between comparisons, found "{joiner.text}"')
            index += 1
        comparisons.append(comparison(tokens[index : index + 3]))
        index += 3
        if len(comparisons) > MAX_COMPARISONS:
            raise invalid(f"has more than {MAX_COMPARISONS} comparisons")
    return tuple(comparisons)


def _comparison(tokens: list[_Token]) -> Comparison:
    if not tokens:
        raise invalid("ends with AND: a comparison must follow")
    name = tokens[0]
    if name.kind != "word":
        raise invalid(f'expected a field name, found "{name.text}"')
    if name.text in _UNSUPPORTED_WORDS:
        raise invalid(_UNSUPPORTED_WORDS[name.text])
    if ":" in name.text or "." in name.text:
        raise invalid(f'"{name.text[:64]}": only comparisons (= != < <= > >=) are supported')
    try:
        field = FilterField(name.text)
    except ValueError:
        known = ", ".join(f.value for f in FilterField)
        raise invalid(f'unknown field "{name.text}"; filterable fields: {known}') from None
    if len(tokens) < 2 or tokens[1].kind != "op":
        found = f'"{tokens[1].text}"' if len(tokens) > 1 else "the end"
        raise invalid(f"expected a comparison operator after {field}, found {found}")
    op = Operator(tokens[1].text)
    if op not in _ALLOWED[field]:
        raise invalid(f"{field} does not support {op}; use = or !=")
    if len(tokens) < 3 or tokens[2].kind not in ("string", "word"):
        raise invalid(f"expected a value after {field} {op}")
    return Comparison(field, op, _value(field, _unquote(tokens[2])))


def _unquote(token: _Token) -> str:
    if token.kind == "word":
        return token.text
    return re.sub(r"\\(.)", r"\1", token.text[1:-1])


def _value(field: FilterField, raw: str) -> Value:
    if field is FilterField.USER_ID:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise invalid(f'user_id must be a UUID, not "{raw[:64]}"') from None
    if field is FilterField.CURRENCY:
        if not _CURRENCY.match(raw):
            raise invalid(f'currency must be an ISO 4217 code like EUR, not "{raw[:64]}"')
        return raw
    if field is FilterField.CREATE_TIME:
        return _timestamp(raw)
    enum_type, prefix = _ENUMS[field]
    name = raw.removeprefix(prefix)
    try:
        return enum_type(name)
    except ValueError:
        known = ", ".join(prefix + m.value for m in enum_type)
        raise invalid(f'{field} has no value "{raw[:64]}"; one of {known}') from None


def _timestamp(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid(
            f"create_time must be an RFC 3339 timestamp with an offset, like "
            f'"2026-12-01T00:00:00Z", not "{raw[:64]}"'
        )
    try:
        # In UTC, as stored: an offset that pushes year 1 or 9999 out of range is refused
        # here rather than failing in the database driver.
        return moment.astimezone(UTC)
    except OverflowError:
        raise invalid(f'create_time "{raw[:64]}" is out of range') from None
