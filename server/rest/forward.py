"""One generic endpoint per route: HTTP request -> proto request (proto3 JSON mapping) ->
the gRPC server over a loopback channel -> proto3 JSON or an AIP-193 error."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import FORWARDED_FOR_HEADER, REST_SHIM_HEADER
from server.rest.errors import auth_challenge, http_error, rpc_error_body
from server.rest.routes import Route

MAX_BODY_BYTES = 1024 * 1024
KEY_FIELD = "request_id"
# Webhook signatures travel as metadata (see webhook_service.proto).
_SIGNATURE_HEADERS = ("stripe-signature",)
_SIGNATURE_PREFIXES = ("paypal-",)

Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes, target: Message) -> None:
    if not raw.strip():
        return  # no body: an empty message
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadRequest(400, f"malformed JSON body: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(400, "the JSON body must be an object")
    try:
        json_format.ParseDict(value, target, ignore_unknown_fields=False)
    except (json_format.ParseError, RecursionError) as exc:
        raise BadRequest(400, str(exc)) from None


def _query_value(field: FieldDescriptor, value: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        if value not in ("true", "false"):
            raise BadRequest(400, f"query parameter {field.name}: expected true or false")
        return value == "true"
    return value  # proto3 JSON accepts numbers and enums as strings


def _apply_query(route: Route, request: Request, message: Message) -> None:
    fields = {f.name: f for f in route.query_fields} | {f.json_name: f for f in route.query_fields}
    values: dict[str, Any] = {}
    for name in request.query_params:
        field = fields.get(name)
        if field is None:
            allowed = ", ".join(f.name for f in route.query_fields) or "none"
            raise BadRequest(400, f"unknown query parameter {name!r} (allowed: {allowed})")
        given = request.query_params.getlist(name)
        if not field.is_repeated and len(given) > 1:
            raise BadRequest(400, f"query parameter {name!r} given more than once")
        converted = [_query_value(field, v) for v in given]
        values[field.name] = converted if field.is_repeated else (converted[0])
    try:
        json_format.ParseDict(values, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise BadRequest(400, str(exc)) from None


def _metadata(route: Route, request: Request, shim_secret: str) -> list[tuple[str, str]]:
    metadata = [
        (name, request.headers[name])
        for name in ("x-request-id", "authorization")
        if name in request.headers
    ]
    if request.client is not None:  # the origin of the call is the HTTP client, not us
        client = f"{request.client.host}:{request.client.port}"
        metadata += [(REST_SHIM_HEADER, shim_secret), (FORWARDED_FOR_HEADER, client)]
    if route.raw_body:
        metadata += [
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() in _SIGNATURE_HEADERS or name.lower().startswith(_SIGNATURE_PREFIXES)
        ]
    return metadata


async def build_request(route: Route, request: Request) -> Message:
    message = message_factory.GetMessageClass(route.request_type)()
    raw = await read_body(request) if route.body else b""
    if route.raw_body:
        field = getattr(message, route.body)
        field.data = raw
        field.content_type = request.headers.get("content-type", "")
    elif route.body == "*":
        _parse_json(raw, message)
    elif route.body:
        _parse_json(raw, getattr(message, route.body))
    _apply_query(route, request, message)
    try:
        json_format.ParseDict({n: request.path_params[n] for n in route.path_params}, message)
    except json_format.ParseError as exc:
        raise BadRequest(400, str(exc)) from None
    key = request.headers.get("idempotency-key")
    if key and KEY_FIELD in route.request_type.fields_by_name and not getattr(message, KEY_FIELD):
        setattr(message, KEY_FIELD, key)
    return message


def _json(message: Message) -> str:
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None)


def endpoint(route: Route, channel: grpc.aio.Channel, shim_secret: str) -> Endpoint:
    response_class = message_factory.GetMessageClass(route.response_type)
    call = channel.unary_unary(
        route.grpc_path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )

    async def handle(request: Request) -> Response:
        try:
            message = await build_request(route, request)
        except BadRequest as exc:
            return http_error(exc.status, exc.message)
        pending = call(message, metadata=_metadata(route, request, shim_secret))
        headers: dict[str, str] = {}
        try:
            response = await pending
        except grpc.aio.AioRpcError as error:
            status, body = rpc_error_body(error)
            _copy_headers(error.initial_metadata(), error.trailing_metadata(), headers)
            headers |= auth_challenge(status, body)
            return JSONResponse(body, status_code=status, headers=headers)
        _copy_headers(await pending.initial_metadata(), await pending.trailing_metadata(), headers)
        return Response(_json(response), media_type="application/json", headers=headers)

    return handle


def _copy_headers(initial: Any, trailing: Any, headers: dict[str, str]) -> None:
    for key, value in (*(initial or ()), *(trailing or ())):
        if key == "x-request-id":
            headers["X-Request-Id"] = str(value)
        elif key == "idempotent-replayed" and value == "true":
            headers["Idempotent-Replayed"] = "true"
