"""The raw card data guard: no request that carries a card number or security code gets past
the edge (PCI DSS 3.3, 3.4). The service only ever takes gateway tokens; a PAN in any field is
a caller's mistake that must not be stored, logged or echoed. The same walk refuses hostile
text (domain/hostile_text.py: NUL, lone surrogates, over-long strings, oversized lists and
maps) with INVALID_ARGUMENT / VALIDATION_FAILED: one pass over a request's text for both.

The request is walked through its descriptors - every string and bytes field, repeated
fields, map keys and values, nested messages, the set member of each oneof, unknown fields -
so a field added to the contract is covered without touching this module. A call is refused
with INVALID_ARGUMENT / RAW_CARD_DATA_REJECTED and a field violation naming the path of each
offending field, never its value. It runs before the idempotency layer, so a refused request
leaves nothing behind, not even an idempotency record.

Numbers are not checked: amounts of 13-15 digits are legitimate (MAX_AMOUNT_MINOR) and
a number field cannot hold the spaces or dashes of a written card number.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

import grpc
from google.protobuf import unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from domain import hostile_text
from domain.errors import FieldViolation, RawCardDataRejected, ValidationFailed
from domain.hostile_text import text_problem
from domain.validation import is_card_field_name
from server.card_digits import holds_card_number
from server.interceptors import Behavior, UnaryInterceptor

VIOLATION_REASON = "RAW_CARD_DATA"
HOLDS_CARD_NUMBER = "must not contain a card number: send a gateway token (such as pm_card_visa)"
NAMED_LIKE_CARD_DATA = "card numbers and security codes are not accepted: send a gateway token"
KEY_HOLDS_CARD_NUMBER = "a key must not contain a card number"
# Enough to point at the mistake; a request of thousands of card numbers gets no longer answer.
MAX_VIOLATIONS = 20
_TEXT_TYPES = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_LENGTH_DELIMITED = 2
_GROUP = 3


def _text(value: str | bytes) -> str:
    # latin-1 maps every byte to one character: digits in bytes stay digits.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _shown_key(key: object) -> str | None:
    """A map key as it may appear in a field path: never one that holds a card number."""
    text = str(key)
    return None if holds_card_number(text) else text


def _scalar(field: FieldDescriptor, value: Any, path: str) -> Iterator[FieldViolation]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        yield from message_violations(value, path)
    elif field.type in _TEXT_TYPES:
        yield from _text_violations(value, path)


def _text_violations(value: str | bytes, path: str) -> Iterator[FieldViolation]:
    """A set string or bytes field: card data first (the graver refusal), then hostile text
    (strings only: bytes are any bytes, and never stored as text)."""
    if holds_card_number(_text(value)):
        yield FieldViolation(path, HOLDS_CARD_NUMBER, VIOLATION_REASON)
    elif isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            yield FieldViolation(path, problem, hostile_text.VIOLATION_REASON)


def _too_many(entries: Any, path: str) -> FieldViolation | None:
    if len(entries) > hostile_text.MAX_ENTRIES:
        return FieldViolation(path, hostile_text.TOO_MANY, hostile_text.VIOLATION_REASON)
    return None


def _map(entry: Descriptor, entries: Mapping[Any, Any], path: str) -> Iterator[FieldViolation]:
    value_field = entry.fields_by_name["value"]
    too_many = _too_many(entries, path)
    if too_many is not None:
        yield too_many
        return
    for key, value in entries.items():
        shown = _shown_key(key)
        if shown is None:
            yield FieldViolation(path, KEY_HOLDS_CARD_NUMBER, VIOLATION_REASON)
            continue
        problem = text_problem(shown) if isinstance(key, str) else None
        if problem is not None:  # the key is not shown: it is what is wrong
            yield FieldViolation(path, f"a key {problem}", hostile_text.VIOLATION_REASON)
            continue
        entry_path = f"{path}[{shown}]"
        if isinstance(key, str) and is_card_field_name(key):
            yield FieldViolation(entry_path, NAMED_LIKE_CARD_DATA, VIOLATION_REASON)
            continue
        yield from _scalar(value_field, value, entry_path)


def _unknown(message: Message, prefix: str) -> Iterator[FieldViolation]:
    """Fields of a newer contract than ours: their names are unknown, their bytes are not."""
    stack: list[Any] = [unknown_fields.UnknownFieldSet(message)]  # no type stubs: Any
    while stack:
        for unknown in stack.pop():
            if unknown.wire_type == _GROUP:
                stack.append(unknown.data)
            elif unknown.wire_type == _LENGTH_DELIMITED and holds_card_number(_text(unknown.data)):
                yield FieldViolation(
                    f"{prefix}[unknown field {unknown.field_number}]",
                    HOLDS_CARD_NUMBER,
                    VIOLATION_REASON,
                )


class _Kind(Enum):
    """What the guard does with a field, decided once per message type."""

    TEXT = auto()  # a string or bytes: looked at when not empty
    TEXTS = auto()  # repeated strings or bytes
    MESSAGE = auto()  # a message: walked when set
    MESSAGES = auto()  # repeated messages
    MAP = auto()  # keys and values
    NAMED = auto()  # named like card data: refused when set, whatever it holds


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    kind: _Kind
    field: FieldDescriptor


def _kind(field: FieldDescriptor) -> _Kind | None:
    """None: a number, a bool or an enum, never looked at."""
    if is_card_field_name(field.name):
        return _Kind.NAMED
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return _Kind.MAP
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _Kind.MESSAGES if field.is_repeated else _Kind.MESSAGE
    if field.type in _TEXT_TYPES:
        return _Kind.TEXTS if field.is_repeated else _Kind.TEXT
    return None


def _steps_of(descriptor: Descriptor) -> tuple[_Step, ...] | None:
    """The fields of a message type worth a look, in field number order (the order of
    ListFields, so of the violations); None for a type that may carry extensions (not one
    proto3 message can), walked field by field as it is set."""
    if descriptor.extension_ranges:
        return None
    steps = []
    for field in sorted(descriptor.fields, key=lambda f: f.number):
        kind = _kind(field)
        if kind is not None:
            steps.append(_Step(field.name, kind, field))
    return tuple(steps)


# Message type -> its steps: each type's descriptors are walked once per process, then every
# call only reads the fields that can hold text.
_STEPS: dict[Any, tuple[_Step, ...] | None] = {}


def _steps(descriptor: Any) -> tuple[_Step, ...] | None:  # upb's Descriptor or protobuf's
    try:
        return _STEPS[descriptor]
    except KeyError:
        steps = _STEPS[descriptor] = _steps_of(descriptor)
        return steps


def message_violations(message: Message, path: str = "") -> Iterator[FieldViolation]:
    """Every place in `message` holding a card number or named like card data."""
    steps = _steps(message.DESCRIPTOR)
    if steps is None:
        yield from _listed_violations(message, path)
    else:
        yield from _stepped_violations(message, steps, path)
    yield from _unknown(message, path)


def _stepped_violations(
    message: Message, steps: tuple[_Step, ...], path: str
) -> Iterator[FieldViolation]:
    for step in steps:
        kind, name = step.kind, step.name
        if kind is _Kind.TEXT:  # most fields of a request: no generator, one attribute read
            value = getattr(message, name)  # unset: empty, and so clean
            if value and (
                holds_card_number(_text(value))
                or (isinstance(value, str) and text_problem(value) is not None)
            ):
                yield from _text_violations(value, _joined(path, name))
        elif kind is _Kind.MESSAGE:
            if message.HasField(name):  # a oneof's other members are not set
                yield from message_violations(getattr(message, name), _joined(path, name))
        else:
            yield from _collection_violations(message, step, path)


def _collection_violations(message: Message, step: _Step, path: str) -> Iterator[FieldViolation]:
    """Repeated fields, maps, and fields named like card data."""
    kind, name = step.kind, step.name
    if kind in (_Kind.TEXTS, _Kind.MESSAGES):
        items = getattr(message, name)
        too_many = _too_many(items, _joined(path, name))
        if too_many is not None:
            yield too_many
        elif kind is _Kind.TEXTS:
            for index, item in enumerate(items):
                yield from _text_violations(item, f"{_joined(path, name)}[{index}]")
        else:
            for index, item in enumerate(items):
                yield from message_violations(item, f"{_joined(path, name)}[{index}]")
    elif kind is _Kind.MAP:
        entries, entry_type = getattr(message, name), step.field.message_type
        if entries and entry_type is not None:  # a map's entry type is always there
            yield from _map(entry_type, entries, _joined(path, name))
    elif _is_listed(message, step.field):  # _Kind.NAMED
        yield FieldViolation(_joined(path, name), NAMED_LIKE_CARD_DATA, VIOLATION_REASON)


def _joined(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_listed(message: Message, field: FieldDescriptor) -> bool:
    """Set, as ListFields says it (a zero number is not; a oneof member is when chosen)."""
    return any(listed is field for listed, _ in message.ListFields())


def _listed_violations(message: Message, path: str) -> Iterator[FieldViolation]:
    """The same walk over whatever is set, extensions included."""
    for field, value in message.ListFields():  # only set fields, and a oneof's set member
        here = _joined(path, field.name)
        if is_card_field_name(field.name):
            yield FieldViolation(here, NAMED_LIKE_CARD_DATA, VIOLATION_REASON)
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield from _map(field.message_type, value, here)
        elif field.is_repeated:
            too_many = _too_many(value, here)
            if too_many is not None:
                yield too_many
                continue
            for index, item in enumerate(value):
                yield from _scalar(field, item, f"{here}[{index}]")
        else:
            yield from _scalar(field, value, here)


def json_violations(value: Any, path: str = "", *, where: str = "body") -> Iterator[FieldViolation]:
    """The same check over decoded JSON (the REST shim's bodies, query and path parameters),
    before it is mapped onto a message: unknown keys and wrongly typed values are covered too.
    `where` names the container when a top-level key is itself a card number."""
    if isinstance(value, (Mapping, list)) and len(value) > hostile_text.MAX_ENTRIES:
        yield FieldViolation(path or where, hostile_text.TOO_MANY, hostile_text.VIOLATION_REASON)
    elif isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            shown = _shown_key(key)
            problem = text_problem(shown) if shown is not None else None
            if shown is None:
                yield FieldViolation(path or where, KEY_HOLDS_CARD_NUMBER, VIOLATION_REASON)
            elif problem is not None:  # the key is not shown: it is what is wrong
                yield FieldViolation(
                    path or where, f"a key {problem}", hostile_text.VIOLATION_REASON
                )
            elif is_card_field_name(shown):
                yield FieldViolation(prefix + shown, NAMED_LIKE_CARD_DATA, VIOLATION_REASON)
            else:
                yield from json_violations(item, prefix + shown, where=where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_violations(item, f"{path}[{index}]", where=where)
    elif isinstance(value, str):
        yield from _text_violations(value, path or where)


def refusal(
    violations: Iterator[FieldViolation],
) -> RawCardDataRejected | ValidationFailed | None:
    """The error refusing a request with these violations, or None when there are none: card
    data refuses it as such (its violations only); hostile text alone is invalid input."""
    found: list[FieldViolation] = []
    for violation in violations:
        found.append(violation)
        if len(found) == MAX_VIOLATIONS:
            break
    if not found:
        return None
    card = [v for v in found if v.reason == VIOLATION_REASON]
    if not card:
        return ValidationFailed(found)
    return RawCardDataRejected(
        "raw card data is not accepted: tokenize the card with the gateway and send its token",
        violations=card,
    )


class CardDataGuard(UnaryInterceptor):
    """Refuses every unary call whose request holds card data. `exempt_services` are those
    whose requests are not a caller's input but signed gateway data (webhooks): refusing them
    would only make the gateway redeliver; they must never be logged raw instead."""

    def __init__(self, exempt_services: Collection[str] = ()) -> None:
        self._exempt = frozenset(exempt_services)

    def applies_to(self, method: str) -> bool:
        # Streaming handlers (only grpc.reflection) carry no payment data.
        return method.lstrip("/").rpartition("/")[0] not in self._exempt

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        return _guarded(behavior)


def _guarded(behavior: Behavior) -> Behavior:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        error = refusal(message_violations(request))
        if error is not None:
            raise error  # the request interceptor turns it into the status
        return await behavior(request, context)

    return guarded
