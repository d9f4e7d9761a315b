"""OpenAPI 3.1 document generated from the same descriptors and HTTP rules as the routes.

Schemas follow the proto3 JSON mapping as the shim writes it: proto field names, int64 as
strings, enums as their names, Timestamp as an RFC 3339 date-time, maps as objects."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from server.auth import GATEWAY_METHODS
from server.rest.openapi_rules import constrained, description, is_required
from server.rest.routes import Route

Schema = dict[str, Any]
ERROR_REF = {"$ref": "#/components/schemas/Error"}
_T = FieldDescriptor
_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$"}
_UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$"}
_SCALARS: dict[int, Schema] = {
    _T.TYPE_DOUBLE: {"type": "number"},
    _T.TYPE_FLOAT: {"type": "number"},
    _T.TYPE_INT32: _INT32,
    _T.TYPE_SINT32: _INT32,
    _T.TYPE_SFIXED32: _INT32,
    _T.TYPE_UINT32: _UINT32,
    _T.TYPE_FIXED32: _UINT32,
    _T.TYPE_INT64: _INT64,
    _T.TYPE_SINT64: _INT64,
    _T.TYPE_SFIXED64: _INT64,
    _T.TYPE_UINT64: _UINT64,
    _T.TYPE_FIXED64: _UINT64,
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.Empty": {"type": "object"},
}
_ERROR: Schema = {
    "type": "object",
    "description": "AIP-193 error",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message"],
            "properties": {
                "code": {"type": "integer", "description": "HTTP status code"},
                "status": {"type": "string", "description": "gRPC status code name"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "description": "google.rpc error details (ErrorInfo, BadRequest ...)",
                    "items": {
                        "type": "object",
                        "required": ["@type"],
                        "properties": {"@type": {"type": "string"}},
                    },
                },
            },
        }
    },
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Schema] = {"Error": _ERROR}

    def field(self, field: FieldDescriptor) -> Schema:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self.single(value)}
        if field.is_repeated:
            return {"type": "array", "items": self.single(field)}
        return self.single(field)

    def single(self, field: FieldDescriptor) -> Schema:
        if field.enum_type is not None:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        if field.message_type is not None:
            return self.message_ref(field.message_type)
        return dict(_SCALARS[field.type])

    def message_ref(self, message: Descriptor) -> Schema:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.components:
            self.components[message.full_name] = {}  # placeholder: recursion stops here
            self.components[message.full_name] = self.object(message)
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def object(self, message: Descriptor, exclude: tuple[str, ...] = ()) -> Schema:
        properties = {f.name: self.field(f) for f in message.fields if f.name not in exclude}
        return _described({"type": "object", "properties": properties}, message.full_name)

    def request(self, message: Descriptor, exclude: tuple[str, ...] = ()) -> Schema:
        """A request body: each field narrowed by the rules the server enforces."""
        fields = [f for f in message.fields if f.name not in exclude]
        schema: Schema = {
            "type": "object",
            "properties": {f.name: constrained(f, self.field(f)) for f in fields},
            # The shim refuses a field the contract does not have (400 "unknown field").
            "additionalProperties": False,
        }
        required = [f.name for f in fields if is_required(f)]
        if required:
            schema["required"] = required
        return _described(schema, message.full_name)


def _described(schema: Schema, full_name: str) -> Schema:
    text = description(full_name)
    return {**schema, "description": text} if text else schema


# The answers every operation may give besides 200, in the AIP-193 shape (server/rest/errors.py
# maps the gRPC codes): what each means for a caller, so that a client knows them without
# being refused first.
_ERRORS: dict[str, str] = {
    "400": "INVALID_ARGUMENT (field violations in a BadRequest detail) or FAILED_PRECONDITION "
    "(the payment's state, a decline with its code)",
    "401": "UNAUTHENTICATED: no bearer token, or an invalid or expired one",
    "403": "PERMISSION_DENIED: the token lacks the scope, or acts for another user",
    "404": "NOT_FOUND: no such resource (or not the caller's)",
    "409": "ABORTED or ALREADY_EXISTS: a concurrent operation, an idempotency key in use or "
    "reused, a payment the order already has",
    "429": "RESOURCE_EXHAUSTED: rate limited; Retry-After says when to try again",
    "500": "INTERNAL: nothing leaked; the x-request-id header names the call in the logs",
    "503": "UNAVAILABLE: a dependency (database, gateway) cannot be reached; retry",
    "504": "DEADLINE_EXCEEDED: no answer in time; a keyed call may be sent again",
}


def _error_responses(route: Route) -> dict[str, Schema]:
    """The error answers of one route: 401 and 403 only where a token is required (a webhook
    is authenticated by the gateway's signature: a bad one is 400); 404 where the path names
    a resource."""
    signed = route.grpc_path in GATEWAY_METHODS
    skip = {"401", "403"} if signed else set()
    if not route.path_params:
        skip.add("404")
    answers: dict[str, Schema] = {
        code: {"description": meaning, "content": {"application/json": {"schema": ERROR_REF}}}
        for code, meaning in _ERRORS.items()
        if code not in skip
    }
    answers["default"] = {
        "description": "Error (AIP-193)",
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    return answers


def _operation(route: Route, schemas: _Schemas) -> Schema:
    fields = route.request_type.fields_by_name
    parameters: list[Schema] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": constrained(fields[name], {"type": "string"}),
        }
        for name in route.path_params
    ]
    parameters += [
        {
            "name": f.name,
            "in": "query",
            "required": is_required(f),
            "schema": constrained(f, schemas.field(f)),
        }
        for f in route.query_fields
    ]
    if "request_id" in route.request_type.fields_by_name:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Idempotency key (AIP-155), copied into request_id",
                "schema": constrained(
                    route.request_type.fields_by_name["request_id"], {"type": "string"}
                )
                | {"description": "Idempotency key (AIP-155), copied into request_id"},
            }
        )
    operation: Schema = {
        "operationId": route.method.name,
        **({"description": d} if (d := description(route.method.full_name)) else {}),
        "tags": [route.method.containing_service.name],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": schemas.message_ref(route.response_type)}
                },
            },
            **_error_responses(route),
        },
    }
    if route.raw_body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {}}},
        }
    elif route.body == "*":
        schema = schemas.request(route.request_type, exclude=route.path_params)
        operation["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": schema}},
        }
    elif route.body:
        field = route.request_type.fields_by_name[route.body]
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": constrained(field, schemas.field(field))}},
        }
    return operation


# The shim's own routes, besides the contract's.
OPERATIONAL_PATHS: dict[str, Schema] = {
    "/health": {
        "get": {
            "security": [],  # public: probes carry no token
            "operationId": "health",
            "summary": "Serving state, from grpc.health.v1",
            "responses": {
                "200": {
                    "description": "SERVING",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"status": {"type": "string"}},
                            }
                        }
                    },
                },
                "503": {"description": "not serving (database unreachable, shutting down)"},
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {
                "200": {
                    "description": "metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "security": [],
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


def _ids_in_response(route: Route) -> dict[str, str]:
    """Path parameter name -> JSON pointer of where the route's answer holds that id: the
    `*_id` fields of the answer and of the messages it holds (`payment.payment_id`)."""
    found: dict[str, str] = {}
    for field in route.response_type.fields:
        if field.name.endswith("_id") and field.type == FieldDescriptor.TYPE_STRING:
            found.setdefault(field.name, f"$response.body#/{field.name}")
        message = field.message_type
        if message is None or field.is_repeated or message.GetOptions().map_entry:
            continue
        for inner in message.fields:
            if inner.name.endswith("_id") and inner.type == FieldDescriptor.TYPE_STRING:
                found.setdefault(inner.name, f"$response.body#/{field.name}/{inner.name}")
    return found


def _links(route: Route, routes: list[Route]) -> Schema:
    """OpenAPI links from this route's answer to every route whose path it fills (a created
    payment's id into /payments/{payment_id}/capture ...): what a client, or schemathesis'
    stateful phase, chains."""
    ids = _ids_in_response(route)
    return {
        target.method.name: {
            "operationId": target.method.name,
            "parameters": {name: ids[name] for name in target.path_params},
        }
        for target in routes
        if target.path_params and all(name in ids for name in target.path_params)
    }


def openapi_document(routes: list[Route], title: str, version: str) -> Schema:
    schemas = _Schemas()
    paths: dict[str, Schema] = {}
    for route in routes:
        operation = _operation(route, schemas)
        links = _links(route, routes)
        if links:
            operation["responses"]["200"]["links"] = links
        if route.grpc_path in GATEWAY_METHODS:
            operation["security"] = []  # webhooks: the gateway's signature authenticates
        paths.setdefault(route.path, {})[route.http_method.lower()] = operation
    paths.update(OPERATIONAL_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        # Every other operation needs a bearer JWT (README: Authentication and authorization).
        "security": [{"bearerAuth": []}],
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
