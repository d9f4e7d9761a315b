"""The contract's rules for the betterproto2 client: a dataclass request is read as the
contract's own protobuf message (the same bytes) and checked by payments-client's validator,
the protovalidate runtime the server runs, so both clients refuse the same requests with the
same `InvalidArgument`, reason and field paths.

    pip install 'payments-client[validate]'
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import betterproto2
from google.protobuf import descriptor_pool, message_factory

from payments_client.validation import RequestValidator

PACKAGE = "payments.v1"
# The modules whose messages the client's requests are: importing them registers the
# descriptors (with their buf.validate options) in the default pool.
REQUEST_MODULES = (
    "payment_service_pb2",
    "payment_method_service_pb2",
    "fx_service_pb2",
    "dispute_service_pb2",
)


@functools.cache
def _message_class(name: str) -> Any:
    """The generated protobuf class of payments.v1.<name>."""
    for module in REQUEST_MODULES:
        importlib.import_module(f"{PACKAGE}.{module}")
    descriptor = descriptor_pool.Default().FindMessageTypeByName(f"{PACKAGE}.{name}")
    return message_factory.GetMessageClass(descriptor)


def as_protobuf(request: betterproto2.Message) -> Any:
    """The same request as the contract's protobuf message (through its wire form)."""
    return _message_class(type(request).__name__).FromString(bytes(request))


class BetterprotoValidator:
    def __init__(self) -> None:
        self._validator = RequestValidator()

    def check(self, request: betterproto2.Message) -> None:
        """Raises InvalidArgument when `request` breaks a rule of the contract."""
        self._validator.check(as_protobuf(request))
