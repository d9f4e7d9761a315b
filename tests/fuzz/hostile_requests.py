"""Hypothesis strategies of hostile requests, driven by the descriptors: every field of a
request message gets the values most likely to break a server - NUL and control characters,
1 MiB strings, emoji and right-to-left text, int64 extremes, enum numbers the contract does
not know, huge repeated and map fields - mixed with values that pass the contract's rules,
so that the calls also reach the domain. A field added to the contract is fuzzed without
touching this module.

What protobuf cannot carry as a `str` (a lone surrogate, bytes that are not UTF-8) is put on
the wire by hand: `with_raw_string` appends a string field holding such bytes."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from tests.fuzz.valid_requests import valid_request

MIB = 1 << 20
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
UINT64 = (0, 2**64 - 1)
UINT32 = (0, 2**32 - 1)
MANY = 2_000  # more entries than any rule allows (domain/hostile_text.MAX_ENTRIES is 1000)

HOSTILE_TEXT = (
    "",
    "\x00",
    "two\x00books",
    "".join(chr(c) for c in range(1, 32)) + "\x7f\x85\x9f",
    "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "\U0001f4b8\U0001f3f3\ufe0f\u200d\U0001f308" * 50,
    "\ufeff\u200b\u2028\u2029",
    " ",
    "EUR",
    "eur",
    "DE",
    "pm_card_visa",
    "https://example.com/return",
    "create_time desc",
    "1.0842",
    'user_id = "x" OR 1=1',
    "../../etc/passwd",
    "%00%n%s{}",
)
# Bytes a protobuf `str` cannot hold but a caller can still send (protobuf strings must be
# UTF-8): a lone surrogate as CESU-8, an overlong NUL, a stray continuation byte.
BROKEN_UTF8 = (b"\xed\xa0\x80", b"\xc0\x80", b"\x80abc", b"\xff\xfe")


def _fresh_uuid() -> str:
    # A new one each draw: the suite owns its data (one payment per order, per run).
    return str(uuid.uuid4())


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.builds(_fresh_uuid),
        st.just("x" * MIB),
        st.text(max_size=40),
    )


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = [low, high, 0, 1, -1, 999_999_999_999_999, 10**15, 500, 501]
    return st.one_of(
        st.sampled_from([e for e in edges if low <= e <= high]),
        st.integers(low, high),
    )


_SCALAR_BOUNDS = {
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
}


def _single(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """One value of the field's type (an element, for a repeated field)."""
    if field.type in _SCALAR_BOUNDS:
        return _integers(_SCALAR_BOUNDS[field.type])
    if field.type == FieldDescriptor.TYPE_STRING:
        return texts()
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.sampled_from(BROKEN_UTF8))
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        known = [v.number for v in field.enum_type.values]
        # Open enums keep unknown numbers: the server must refuse them, not crash on them.
        return st.sampled_from([*known, 99, -1, INT32[0], INT32[1]])
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    assert field.message_type is not None  # the only type left
    return messages(field.message_type, depth + 1)


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
        few = st.dictionaries(_single(key, depth), _single(value, depth), max_size=3)
        many = st.builds(lambda: {f"k{n}": "v" for n in range(MANY)})
        return st.one_of(few, many) if key.type == FieldDescriptor.TYPE_STRING else few
    if field.is_repeated:
        many_items = st.builds(lambda: [_small(field)] * MANY)
        return st.one_of(st.lists(_single(field, depth), max_size=3), many_items)
    return _single(field, depth)


def _small(field: FieldDescriptor) -> Any:
    """A short valid element, to make a huge repeated field of (not a huge message)."""
    if field.message_type is not None:
        return GetMessageClass(field.message_type)()
    return {
        FieldDescriptor.TYPE_STRING: "v",
        FieldDescriptor.TYPE_BYTES: b"v",
        FieldDescriptor.TYPE_BOOL: True,
    }.get(field.type, 1)


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, depth: int) -> Message:
    cls = GetMessageClass(descriptor)
    message = cls()
    if depth > 2:
        return message
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue  # unset: the field's zero value, a case of its own
        value = draw(_value(field, depth))
        try:
            _assign(message, field, value)
        except (TypeError, ValueError):
            continue  # a value this field's Python type refuses cannot be sent either
    return message


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        value_field = entry.fields_by_name["value"]
        for key, item in value.items():
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        target.CopyFrom(value)
    else:
        setattr(message, field.name, value)


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    return _message(descriptor, depth)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def with_raw_string(wire: bytes, field_number: int, raw: bytes) -> bytes:
    """`wire` with a length-delimited field `field_number` holding `raw` appended (the last
    occurrence of a field wins when a message is parsed)."""
    return wire + _varint(field_number << 3 | 2) + _varint(len(raw)) + raw


@st.composite
def one_field_broken(draw: st.DrawFn, descriptor: Descriptor) -> Message:
    """A request the contract takes (tests/fuzz/valid_requests.py) with one field drawn
    hostile: it gets past the edge when that value passes too."""
    message = valid_request(descriptor)
    if descriptor.fields:
        field = draw(st.sampled_from(list(descriptor.fields)))
        message.ClearField(field.name)
        with contextlib.suppress(TypeError, ValueError):  # a value its type refuses
            _assign(message, field, draw(_value(field, 1)))
    return message


@st.composite
def request_bytes(draw: st.DrawFn, descriptor: Descriptor) -> bytes:
    """A hostile request on the wire: a drawn message, or a valid one with one field
    broken, sometimes with broken UTF-8 in one of its string fields."""
    drawn = draw(st.one_of(messages(descriptor), one_field_broken(descriptor)))
    wire = drawn.SerializeToString()
    strings = [f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_STRING]
    broken: bool = draw(st.booleans())
    if strings and broken:
        field = draw(st.sampled_from(strings))
        wire = with_raw_string(wire, field.number, draw(st.sampled_from(BROKEN_UTF8)))
    return wire
