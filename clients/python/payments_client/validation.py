"""The contract's rules, checked before sending: a request the server would refuse with
INVALID_ARGUMENT / VALIDATION_FAILED is refused here with the same `InvalidArgument` (same
reason, same field paths), without a round trip. The rules are the `buf.validate` options of
the .proto files, evaluated by the `protovalidate` runtime - the one the server runs:

    pip install 'payments-client[validate]'

    validate_request(CreatePaymentRequest(...))            # raises InvalidArgument
    PaymentsClient(target, validate=True)                  # every call checked first

Rules that need the server's state (a supported currency, one payment per order) are still
the server's to check."""

from __future__ import annotations

from typing import Any

import grpc

from payments_client.errors import InvalidArgument

REASON = "VALIDATION_FAILED"


class RequestValidator:
    """One protovalidate validator (it caches each message type's compiled rules)."""

    def __init__(self) -> None:
        try:
            import protovalidate  # noqa: PLC0415 - optional: only when validating
        except ImportError as missing:  # an optional dependency
            raise ImportError(
                "validating requests needs protovalidate: pip install 'payments-client[validate]'"
            ) from missing
        self._validator = protovalidate.Validator()

    def violations(self, request: Any) -> dict[str, str]:
        """Field path -> what is wrong, as the server's BadRequest names them."""
        found: dict[str, str] = {}
        for violation in self._validator.collect_violations(request):
            proto = violation.proto
            path = _path(proto)
            description = "is required" if proto.rule_id == "required" else str(proto.message)
            found.setdefault(path, ("a key " if proto.for_key else "") + description)
        return found

    def check(self, request: Any) -> None:
        """Raises InvalidArgument when `request` breaks a rule of the contract."""
        found = self.violations(request)
        if found:
            raise InvalidArgument(
                code=grpc.StatusCode.INVALID_ARGUMENT,
                message=f"invalid request: {', '.join(found)}",
                reason=REASON,
                field_violations=found,
            )


def _path(proto: Any) -> str:
    """`metadata[key]`, `amount_minor`; a rule across fields names its field first in its id
    (`target_currency.distinct`), as the server reports it."""
    elements = proto.field.elements if proto.field is not None else ()
    if not elements:
        return str(proto.rule_id).partition(".")[0]
    parts = []
    for element in elements:
        subscript = getattr(element, "subscript", None)
        value = getattr(subscript, "value", subscript)
        name = element.field_name
        parts.append(f"{name}[{value}]" if subscript is not None else name)
    return ".".join(parts)


_shared: RequestValidator | None = None


def validate_request(request: Any) -> None:
    """Raises InvalidArgument when `request` breaks a rule of the contract (a shared
    validator, built on first use)."""
    global _shared  # noqa: PLW0603 - one cache of compiled rules per process
    if _shared is None:
        _shared = RequestValidator()
    _shared.check(request)
