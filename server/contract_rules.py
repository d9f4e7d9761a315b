"""The contract's rules, enforced in one place at the edge. Every request field's rules are
`buf.validate` options in protos/ (required, UUID, ISO 4217 / 3166 patterns, ranges, maximum
lengths, no NUL); this interceptor checks a request against them with the protovalidate
runtime before anything else reads it, and refuses a request that breaks any with
INVALID_ARGUMENT / VALIDATION_FAILED and one BadRequest field violation per broken rule.

Rules that need state (a supported currency, one payment per order, a token with a type)
stay in the domain. The runtime is native (Rust): a CreatePaymentRequest costs a few
microseconds (bench/contract_rules.py), so it runs on every call; the validator is built
once per server and caches each message type's compiled rules.

It runs after the card guard (server/card_guard.py): a request with card data is refused as
such first, so a violation here never has to show a card number; a map key holding one is
still left out of the path, in case a rule and the guard ever disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import grpc
import protovalidate

from domain.errors import FieldViolation, ValidationFailed
from server.card_digits import holds_card_number
from server.interceptors import Behavior, UnaryInterceptor

REQUIRED_REASON = "REQUIRED"
INVALID_REASON = "INVALID_FIELD"
# Said in our words where the runtime's message would quote a character a log cannot show.
_DESCRIPTIONS = {
    "required": "is required",
    "string.not_contains": "must not contain NUL characters (U+0000)",
}


def _subscript(element: Any) -> str:
    """`[key]` or `[index]` of a map entry or list item, as the card guard writes paths."""
    subscript = getattr(element, "subscript", None)
    if subscript is None:
        return ""
    value = getattr(subscript, "value", subscript)
    shown = str(value)
    if isinstance(value, bool):
        shown = shown.lower()
    if holds_card_number(shown):
        return ""  # never echo a card number, not even as a key
    return f"[{shown}]"


def field_path(violation: protovalidate.Violation) -> str:
    """`metadata[order]`, `items[2].name`: the field names of the path with their subscripts.
    A rule across fields (a message's `cel` rule) has no path: by the contract's convention its
    id starts with the field it is reported on (`target_currency.distinct`)."""
    path = violation.proto.field
    elements = path.elements if path is not None else ()
    if not elements:
        return str(violation.proto.rule_id).partition(".")[0]
    return ".".join(f"{e.field_name}{_subscript(e)}" for e in elements)


def field_violation(violation: protovalidate.Violation) -> FieldViolation:
    proto = violation.proto
    rule_id = str(proto.rule_id)
    description = _DESCRIPTIONS.get(rule_id) or str(proto.message) or rule_id
    if proto.for_key:
        description = f"a key {description}"
    reason = REQUIRED_REASON if rule_id == "required" else INVALID_REASON
    return FieldViolation(field_path(violation) or "request", description, reason)


class ContractRules:
    """The contract's static rules over request messages; one per server (its validator
    caches what it compiled from each message type's descriptors)."""

    def __init__(self) -> None:
        self._validator = protovalidate.Validator()

    def violations(self, request: Any) -> list[FieldViolation]:
        return [field_violation(v) for v in self._validator.collect_violations(request)]

    def refusal(self, request: Any) -> ValidationFailed | None:
        found = self._validator.collect_violations(request)
        if not found:
            return None
        return ValidationFailed(_unique(field_violation(v) for v in found))


def _unique(violations: Iterable[FieldViolation]) -> list[FieldViolation]:
    return list(dict.fromkeys(violations))  # FieldViolation is frozen: hashable, ordered


class ContractRulesInterceptor(UnaryInterceptor):
    """Refuses a unary call whose request breaks the contract's rules. `exempt_services`
    take signed gateway bodies (webhooks), refused or accepted by their signature."""

    def __init__(self, rules: ContractRules, exempt_services: Collection[str] = ()) -> None:
        self._rules = rules
        self._exempt = frozenset(exempt_services)

    def applies_to(self, method: str) -> bool:
        service = method.lstrip("/").rpartition("/")[0]
        return not method.startswith("/grpc.") and service not in self._exempt

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        rules = self._rules

        async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
            error = rules.refusal(request)
            if error is not None:
                raise error  # the request interceptor turns it into the status
            return await behavior(request, context)

        return checked
