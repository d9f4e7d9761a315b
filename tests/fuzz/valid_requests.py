"""Requests that pass the contract's rules, read from the same buf.validate options the server
enforces: the fuzzer breaks one field of such a request at a time, so that its calls get
past the edge into the servicers, the domain and the database instead of all being refused
for their first bad field."""

from __future__ import annotations

import uuid
from typing import Any

from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from server.rest.openapi_rules import field_rules

# Names of currencies a second currency field takes, so that "must differ" rules hold.
_SECOND_CURRENCY = ("quote_", "target_", "settlement_")


def _string(field: FieldDescriptor) -> str:
    rules = field_rules(field)
    if rules is None or not rules.HasField("string"):
        return "fine"
    string = rules.string
    if string.uuid:
        return str(uuid.uuid4())
    if string.email:
        return "buyer@example.com"
    pattern = string.pattern
    if pattern == "^[A-Z]{3}$":
        return "USD" if field.name.startswith(_SECOND_CURRENCY) else "EUR"
    if pattern == "^[A-Z]{2}$":
        return "DE"
    if pattern.startswith("^[A-Za-z0-9_"):
        return "pm_card_visa"
    if pattern.startswith("^[0-9]"):
        return "1.0842"
    if pattern.startswith("^(https://"):
        return "https://shop.example.com/return"
    return str(uuid.uuid4()) if field.name == "request_id" else "fine"


def _number(field: FieldDescriptor) -> int:
    rules = field_rules(field)
    if rules is not None and rules.HasField("int32"):
        return 10  # page sizes
    return 1099


def valid_value(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string(field)
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        numbers = [v.number for v in field.enum_type.values if v.number != 0]
        return numbers[0] if numbers else 0
    if field.type == FieldDescriptor.TYPE_BOOL:
        return False
    if field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32):
        return _number(field)
    return None


def _left_empty(field: FieldDescriptor, descriptor: Descriptor) -> bool:
    """Optional fields whose empty value means "not given" stay empty (an fx_quote_id would
    have to name a real quote), except the token a payment needs (id or token)."""
    rules = field_rules(field)
    if rules is None or rules.ignore != validate_pb2.IGNORE_IF_ZERO_VALUE:
        return False
    return field.name != "payment_method_token"


def valid_request(descriptor: Descriptor) -> Message:
    """A request whose every field holds a value its rules take (messages, maps and
    repeated fields, and optional ids, are left empty)."""
    message = GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if field.is_repeated or field.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        if _left_empty(field, descriptor):
            continue
        value = valid_value(field)
        if value is not None:
            setattr(message, field.name, value)
    return message
