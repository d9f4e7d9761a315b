"""One generic endpoint per route: HTTP request -> proto request (proto3 JSON mapping) ->
the gRPC server over a loopback channel -> proto3 JSON or an AIP-193 error."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import RawCardDataRejected, ValidationFailed
from domain.validation import contains_card_number
from server.auth import FORWARDED_FOR_HEADER, REST_SHIM_HEADER
from server.card_guard import json_violations, refusal
from server.rest.errors import (
    auth_challenge,
    domain_error_body,
    http_error,
    retry_after,
    rpc_error_body,
)
from server.rest.routes import Route

MAX_BODY_BYTES = 1024 * 1024
KEY_FIELD = "request_id"
# Webhook signatures travel as metadata (see webhook_service.proto).
_SIGNATURE_HEADERS = ("stripe-signature",)
_SIGNATURE_PREFIXES = ("paypal-",)

# json_format's error messages: "Failed to parse amount_minor field: <what, with the value>".
_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field: ")
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]*)"')
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")

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


def _safe_name(name: str) -> str | None:
    """A name taken from the request, if it may be repeated in an error: an identifier,
    never a card number or anything else a caller may have put where a name goes."""
    return name if _IDENTIFIER.match(name) and not contains_card_number(name) else None


def _parse_error_message(exc: json_format.ParseError) -> str:
    """What was wrong, naming fields but never repeating a value: json_format's own messages
    quote the values it could not parse (a card number sent as a number, for instance)."""
    text, fields = str(exc), []
    while (failed := _FAILED_FIELD.match(text)) is not None:
        fields.append(failed.group(1))  # json_format names only fields it found: safe
        text = text[failed.end() :]
    where = ".".join(fields)
    unknown = _UNKNOWN_FIELD.search(text)
    if unknown is not None:
        name = _safe_name(unknown.group(1))
        message = f"unknown field {name!r}" if name else "unknown field"
        return f"{message} in {where}" if where else message
    if where:
        return f"invalid value for field {where}"
    return "the request does not match the request message"


def _refuse_card_data(value: Any, path: str = "", *, where: str = "body") -> None:
    error = refusal(json_violations(value, path, where=where))
    if error is not None:
        raise error


def _parse_json(raw: bytes, target: Message, path: str) -> None:
    if not raw.strip():
        return  # no body: an empty message
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:  # its message has positions, never the text
        raise BadRequest(400, f"malformed JSON body: {exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError:
        raise BadRequest(400, "malformed JSON body: not UTF-8") from None
    except RecursionError:
        raise BadRequest(400, "malformed JSON body: nested too deeply") from None
    if not isinstance(value, dict):
        raise BadRequest(400, "the JSON body must be an object")
    try:
        _refuse_card_data(value, path)  # before mapping: unknown keys are looked at too
    except RecursionError:
        raise BadRequest(400, "malformed JSON body: nested too deeply") from None
    try:
        json_format.ParseDict(value, target, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise BadRequest(400, _parse_error_message(exc)) from None
    except RecursionError:
        raise BadRequest(400, "malformed JSON body: nested too deeply") from None


def _query_value(field: FieldDescriptor, value: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        if value not in ("true", "false"):
            raise BadRequest(400, f"query parameter {field.name}: expected true or false")
        return value == "true"
    return value  # proto3 JSON accepts numbers and enums as strings


def _apply_query(route: Route, request: Request, message: Message) -> None:
    given_values = {name: request.query_params.getlist(name) for name in request.query_params}
    _refuse_card_data(
        {name: v[0] if len(v) == 1 else v for name, v in given_values.items()}, where="query"
    )
    fields = {f.name: f for f in route.query_fields} | {f.json_name: f for f in route.query_fields}
    values: dict[str, Any] = {}
    for name, given in given_values.items():
        field = fields.get(name)
        if field is None:
            allowed = ", ".join(f.name for f in route.query_fields) or "none"
            shown = _safe_name(name)
            unknown = f"unknown query parameter {shown!r}" if shown else "unknown query parameter"
            raise BadRequest(400, f"{unknown} (allowed: {allowed})")
        if not field.is_repeated and len(given) > 1:
            raise BadRequest(400, f"query parameter {field.name!r} given more than once")
        converted = [_query_value(field, v) for v in given]
        values[field.name] = converted if field.is_repeated else (converted[0])
    try:
        json_format.ParseDict(values, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise BadRequest(400, _parse_error_message(exc)) from None


def _metadata(route: Route, request: Request, shim_secret: str) -> list[tuple[str, str]]:
    metadata = [
        (name, request.headers[name])
        for name in ("x-request-id", "authorization")
        if name in request.headers
    ]
    if request.client is not None:
        # The origin of the call is the HTTP client, not this shim's loopback channel: for
        # the audit trail and for rate limiting by address (server/rate_limit.py).
        metadata += [
            (REST_SHIM_HEADER, shim_secret),
            (FORWARDED_FOR_HEADER, request.client.host),
        ]
    if route.raw_body:
        metadata += [
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() in _SIGNATURE_HEADERS or name.lower().startswith(_SIGNATURE_PREFIXES)
        ]
    return metadata


async def build_request(route: Route, request: Request) -> Message:
    """The gRPC request of an HTTP request. Raises BadRequest, RawCardDataRejected for card
    data anywhere in the body, the query or the path, or ValidationFailed for hostile text
    there (domain/hostile_text.py); webhook bodies excepted: they are the gateways' signed
    data."""
    message = message_factory.GetMessageClass(route.request_type)()
    path_values = {n: request.path_params[n] for n in route.path_params}
    _refuse_card_data(path_values, where="path")
    raw = await read_body(request) if route.body else b""
    if route.raw_body:
        field = getattr(message, route.body)
        field.data = raw
        field.content_type = request.headers.get("content-type", "")
    elif route.body == "*":
        _parse_json(raw, message, "")
    elif route.body:
        _parse_json(raw, getattr(message, route.body), route.body)
    _apply_query(route, request, message)
    try:
        json_format.ParseDict(path_values, message)
    except json_format.ParseError as exc:
        raise BadRequest(400, _parse_error_message(exc)) from None
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
        except (RawCardDataRejected, ValidationFailed) as exc:  # as the gRPC guard answers
            status, body = domain_error_body(exc)
            return JSONResponse(body, status_code=status)
        pending = call(message, metadata=_metadata(route, request, shim_secret))
        headers: dict[str, str] = {}
        try:
            response = await pending
        except grpc.aio.AioRpcError as error:
            status, body = rpc_error_body(error)
            _copy_headers(error.initial_metadata(), error.trailing_metadata(), headers)
            if (after := retry_after(error)) is not None:
                headers["Retry-After"] = after
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
