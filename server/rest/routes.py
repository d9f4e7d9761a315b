"""The route table, built by walking the service descriptors and their google.api.http rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)

from payments.v1 import (
    analytics_service_pb2,
    dispute_service_pb2,
    fx_service_pb2,
    payment_method_service_pb2,
    payment_service_pb2,
    webhook_service_pb2,
)

HTTP_BODY = "google.api.HttpBody"
TIMESTAMP = "google.protobuf.Timestamp"
# Path variables: {field} only (our contract binds no nested or wildcard segments).
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Route:
    http_method: str  # upper case: GET, POST ...
    path: str  # the annotation's template, /api/v1/payments/{payment_id}
    method: MethodDescriptor
    body: str  # "" (no body), "*" (the whole request) or a field name

    @property
    def grpc_path(self) -> str:
        """'/payments.v1.PaymentService/CapturePayment'."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def request_type(self) -> Descriptor:
        return self.method.input_type

    @property
    def response_type(self) -> Descriptor:
        return self.method.output_type

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_VARIABLE.findall(self.path))

    @property
    def body_field(self) -> FieldDescriptor | None:
        if self.body in ("", "*"):
            return None
        return self.request_type.fields_by_name[self.body]

    @property
    def raw_body(self) -> bool:
        """The body is bound to a google.api.HttpBody field: raw bytes, not JSON."""
        field = self.body_field
        return (
            field is not None
            and field.message_type is not None
            and field.message_type.full_name == HTTP_BODY
        )

    @property
    def query_fields(self) -> tuple[FieldDescriptor, ...]:
        """Fields bound neither by the path nor by the body (HTTP rule semantics): only
        scalars, enums and timestamps (RFC 3339 text), singular or repeated, can be given as
        query parameters."""
        if self.body == "*":
            return ()
        bound = {*self.path_params, self.body}
        return tuple(
            f
            for f in self.request_type.fields
            if f.name not in bound
            and (
                f.type != FieldDescriptor.TYPE_MESSAGE
                or (f.message_type is not None and f.message_type.full_name == TIMESTAMP)
            )
        )

    @property
    def mutating(self) -> bool:
        return self.http_method != "GET"


def _bindings(rule: http_pb2.HttpRule) -> Iterable[http_pb2.HttpRule]:
    yield rule
    yield from rule.additional_bindings


def routes_of(service: ServiceDescriptor) -> list[Route]:
    routes: list[Route] = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        for binding in _bindings(options.Extensions[annotations_pb2.http]):
            kind = binding.WhichOneof("pattern")
            if kind not in _METHODS:
                continue  # "custom" verbs: none in our contract
            path = getattr(binding, kind)
            routes.append(Route(kind.upper(), path, method, binding.body))
    return routes


def build_routes(services: Iterable[ServiceDescriptor]) -> list[Route]:
    return [route for service in services for route in routes_of(service)]


def contract_services() -> list[ServiceDescriptor]:
    """Every service of the contract that the REST shim serves."""
    return [
        payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"],
        payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"],
        webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"],
        fx_service_pb2.DESCRIPTOR.services_by_name["FxService"],
        analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"],
        dispute_service_pb2.DESCRIPTOR.services_by_name["DisputeService"],
    ]
