"""The card guard's walk over a message, on a message type built here with every shape a
contract can have: strings, bytes, repeated fields, maps (string and message values), nested
messages, a oneof, numbers, unknown fields, and fields named like card data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from domain.validation import contains_card_number
from server.card_digits import holds_card_number
from server.card_guard import (
    MAX_VIOLATIONS,
    _listed_violations,
    _stepped_violations,
    _steps,
    json_violations,
    message_violations,
    refusal,
)

F = descriptor_pb2.FieldDescriptorProto
CARD = "4000 0566 5566 5556"


def _field(message: Any, name: str, number: int, kind: int, **extra: Any) -> None:
    message.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL, **extra)


def _map_entry(message: Any, name: str, value_kind: int, value_type: str = "") -> None:
    entry = message.nested_type.add(name=name)
    entry.options.map_entry = True
    _field(entry, "key", 1, F.TYPE_STRING)
    _field(entry, "value", 2, value_kind, **({"type_name": value_type} if value_type else {}))


def _types() -> tuple[type[Message], type[Message]]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="guard_test.proto", package="guardtest", syntax="proto3"
    )
    inner = proto.message_type.add(name="Inner")
    _field(inner, "note", 1, F.TYPE_STRING)
    _field(inner, "blob", 2, F.TYPE_BYTES)
    _field(inner, "cvc", 3, F.TYPE_STRING)
    outer = proto.message_type.add(name="Outer")
    _field(outer, "text", 1, F.TYPE_STRING)
    outer.field.add(name="tags", number=2, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    _map_entry(outer, "LabelsEntry", F.TYPE_STRING)
    outer.field.add(
        name="labels", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
        type_name=".guardtest.Outer.LabelsEntry",
    )  # fmt: skip
    _field(outer, "inner", 4, F.TYPE_MESSAGE, type_name=".guardtest.Inner")
    outer.field.add(
        name="items", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
        type_name=".guardtest.Inner",
    )  # fmt: skip
    outer.oneof_decl.add(name="choice")
    _field(outer, "a", 6, F.TYPE_STRING, oneof_index=0)
    _field(outer, "b", 7, F.TYPE_MESSAGE, type_name=".guardtest.Inner", oneof_index=0)
    _field(outer, "number", 8, F.TYPE_INT64)
    _map_entry(outer, "NestedEntry", F.TYPE_MESSAGE, ".guardtest.Inner")
    outer.field.add(
        name="nested", number=9, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
        type_name=".guardtest.Outer.NestedEntry",
    )  # fmt: skip
    _field(outer, "card_number", 10, F.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("guardtest.Outer")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("guardtest.Inner")),
    )


# Dynamic message classes: their fields are unknown to the type checker.
Outer: Any
Inner: Any
Outer, Inner = _types()
Inject = Callable[[Any], None]


def _fields(message: Message) -> list[str]:
    return [violation.field for violation in message_violations(message)]


SLOTS: list[tuple[str, Inject]] = [
    ("text", lambda m: setattr(m, "text", CARD)),
    ("tags[1]", lambda m: m.tags.extend(["fine", f"x{CARD}x"])),
    ("labels[note]", lambda m: m.labels.update({"note": CARD})),
    ("labels", lambda m: m.labels.update({CARD: "key holds it"})),
    ("inner.note", lambda m: setattr(m.inner, "note", CARD)),
    ("inner.blob", lambda m: setattr(m.inner, "blob", CARD.encode())),
    ("items[0].note", lambda m: m.items.add(note=CARD)),
    ("a", lambda m: setattr(m, "a", CARD)),
    ("b.note", lambda m: setattr(m.b, "note", CARD)),
    ("nested[k].note", lambda m: setattr(m.nested["k"], "note", CARD)),
    ("nested", lambda m: m.nested[CARD].SetInParent()),
]


@pytest.mark.parametrize(("path", "inject"), SLOTS, ids=[p for p, _ in SLOTS])
def test_a_card_number_anywhere_is_found_and_named_by_its_path(path: str, inject: Inject) -> None:
    message = Outer(text="clean", number=5)
    message.labels["ok"] = "fine"
    inject(message)
    violations = list(message_violations(message))
    assert [v.field for v in violations] == [path]
    assert violations[0].reason == "RAW_CARD_DATA"
    assert not contains_card_number(violations[0].field + violations[0].description)


def test_a_clean_message_passes() -> None:
    message = Outer(text="pm_card_visa", tags=["a"], number=4242424242424242)
    message.labels["note"] = "11111111-1111-4111-8111-111111111111"
    message.items.add(note="fine", blob=b"\x00\x01")
    assert _fields(message) == []  # numbers are not looked at; UUIDs are ids


@pytest.mark.parametrize(
    ("inject", "path"),
    [
        (lambda m: setattr(m, "card_number", "tok_123"), "card_number"),
        (lambda m: setattr(m.inner, "cvc", "123"), "inner.cvc"),
        (lambda m: m.labels.update({"CVV2": "123"}), "labels[CVV2]"),
        (lambda m: m.nested["securityCode"].SetInParent(), "nested[securityCode]"),
    ],
)
def test_fields_and_keys_named_like_card_data_are_refused_whatever_they_hold(
    inject: Inject, path: str
) -> None:
    message = Outer()
    inject(message)
    assert _fields(message) == [path]


def test_unknown_fields_are_looked_at_too() -> None:
    card_field = b"\x9a\x06" + bytes([len(CARD)]) + CARD.encode()  # field 99, length-delimited
    top = Outer.FromString(Outer(text="a").SerializeToString() + card_field)
    assert _fields(top) == ["[unknown field 99]"]
    nested = Outer.FromString(
        Outer(inner=Inner.FromString(card_field)).SerializeToString(),
    )
    assert _fields(nested) == ["inner[unknown field 99]"]


def test_a_refusal_names_a_bounded_number_of_fields() -> None:
    message = Outer(tags=[CARD] * 100)
    error = refusal(message_violations(message))
    assert error is not None
    assert error.reason == "RAW_CARD_DATA_REJECTED"
    assert len(error.violations) == MAX_VIOLATIONS
    assert refusal(message_violations(Outer(text="fine"))) is None


def test_decoded_json_is_walked_with_its_keys() -> None:
    body = {
        "description": f"card {CARD}",
        "metadata": {"ok": "fine", "cvv": "123", CARD: "x"},
        "items": [{"note": "fine"}, {"note": CARD}],
        "cardNumber": "anything",
        CARD: 1,
        "amount_minor": 4242424242424242,
    }
    assert [v.field for v in json_violations(body)] == [
        "description",
        "metadata.cvv",
        "metadata",
        "items[1].note",
        "cardNumber",
        "body",
    ]
    assert [v.field for v in json_violations({CARD: "1"}, where="query")] == ["query"]


TEXTS = st.sampled_from(
    ["", "fine", CARD, f"x{CARD}x", "4242424242424242", "11111111-1111-4111-8111-111111111111"]
)


@st.composite
def inners(draw: st.DrawFn) -> Any:
    return Inner(note=draw(TEXTS), blob=draw(TEXTS).encode(), cvc=draw(st.sampled_from(["", "1"])))


@st.composite
def outers(draw: st.DrawFn) -> Any:
    message = Outer(text=draw(TEXTS), tags=draw(st.lists(TEXTS, max_size=3)))
    message.number = draw(st.sampled_from([0, 4242424242424242]))
    message.labels.update(draw(st.dictionaries(st.sampled_from(["k", "cvv", CARD]), TEXTS)))
    if draw(st.booleans()):
        message.inner.CopyFrom(draw(inners()))
    message.items.extend(draw(st.lists(inners(), max_size=2)))
    choice = draw(st.sampled_from(["none", "a", "b"]))
    if choice == "a":
        message.a = draw(TEXTS)
    elif choice == "b":
        message.b.CopyFrom(draw(inners()))
    for key in draw(st.lists(st.sampled_from(["n", "pin", CARD]), max_size=2)):
        message.nested[key].CopyFrom(draw(inners()))
    message.card_number = draw(st.sampled_from(["", "tok"]))
    return message


@given(outers())
def test_the_precomputed_walk_finds_what_walking_the_set_fields_finds(message: Any) -> None:
    # _listed_violations walks whatever ListFields reports, as the guard did for every type.
    for part in (message, message.inner, message.b):
        steps = _steps(part.DESCRIPTOR)
        assert steps is not None
        listed = list(_listed_violations(part, "p"))
        assert list(_stepped_violations(part, steps, "p")) == listed


def test_a_types_steps_are_worked_out_once_and_skip_numbers() -> None:
    steps = _steps(Outer.DESCRIPTOR)
    assert _steps(Outer.DESCRIPTOR) is steps
    assert steps is not None
    assert [step.name for step in steps] == [
        "text", "tags", "labels", "inner", "items", "a", "b", "nested", "card_number"
    ]  # fmt: skip


@given(st.text(alphabet="0123456789 -x\u0660\u0669", max_size=40))
def test_the_quick_card_number_look_agrees_with_the_exact_one(text: str) -> None:
    assert holds_card_number(text) == contains_card_number(text)
