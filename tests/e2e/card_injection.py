"""Where a card number can be put into a request, derived from the contract: every string
field of every request of every RPC (gRPC), every path, query and body field of every route
(REST). And where it must then be looked for: the database, Redis, the log lines."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import asyncpg
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from redis.asyncio import Redis

from server.rest.routes import Route

# How deep nested request messages are followed (the contract's requests are flat today;
# recursive types such as google.protobuf.Struct would never end otherwise).
MAX_DEPTH = 4
_TEXT = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)


def _luhn_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


class CardNumbers:
    """Distinct Luhn-valid card numbers, each written in one of the ways people write them."""

    _FORMATS: tuple[Callable[[str], str], ...] = (
        lambda pan: pan,
        lambda pan: " ".join(pan[i : i + 4] for i in range(0, 16, 4)),
        lambda pan: "-".join(pan[i : i + 4] for i in range(0, 16, 4)),
        lambda pan: f"pay with {pan} please",
        lambda pan: f"card:{' '.join(pan[i : i + 4] for i in range(0, 16, 4))} cvc 123",
    )

    def __init__(self, seed: int = 7) -> None:
        self._random = random.Random(seed)
        self._formats = itertools.cycle(self._FORMATS)
        self.issued: list[str] = []  # the bare digits of every number handed out

    def next(self) -> str:
        payload = "4" + "".join(self._random.choice("0123456789") for _ in range(14))
        pan = payload + _luhn_digit(payload)
        self.issued.append(pan)
        return next(self._formats)(pan)


# Messages built from descriptors are dynamic: their fields are not known to the type checker.
Setter = Callable[[Any, str], None]


@dataclass(frozen=True)
class Slot:
    """A place for text in a request message: the path the guard must name, and a setter."""

    path: str
    put: Setter


def _within(reach: Callable[[Any], Any], prefix: str, inner: Slot) -> Slot:
    """`inner`, a slot of a nested message that `reach` finds (creating it) in the outer."""

    def put(message: Any, text: str) -> None:
        inner.put(reach(message), text)

    return Slot(f"{prefix}.{inner.path}", put)


def _as(field: FieldDescriptor, text: str) -> str | bytes:
    return text.encode() if field.type == FieldDescriptor.TYPE_BYTES else text


def _entry(message_type: Descriptor | None) -> Descriptor:
    assert message_type is not None
    return message_type


def _map_slots(field: FieldDescriptor, depth: int) -> Iterator[Slot]:
    name = field.name
    entry = _entry(field.message_type)
    key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]

    def key_holds(message: Any, text: str) -> None:
        entries = getattr(message, name)
        if value.type == FieldDescriptor.TYPE_MESSAGE:
            entries[text].SetInParent()
        else:
            entries[text] = _as(value, "x")

    def value_holds(message: Any, text: str) -> None:
        getattr(message, name)["note"] = _as(value, text)

    if key.type == FieldDescriptor.TYPE_STRING:  # a key holding a card: named by the map only
        yield Slot(name, key_holds)
    if value.type in _TEXT:
        yield Slot(f"{name}[note]", value_holds)
    elif value.type == FieldDescriptor.TYPE_MESSAGE:
        for inner in text_slots(_entry(value.message_type), depth + 1):
            yield _within(lambda m: getattr(m, name)["note"], f"{name}[note]", inner)


def _field_slots(field: FieldDescriptor, depth: int) -> Iterator[Slot]:
    name = field.name

    def append(message: Any, text: str) -> None:
        getattr(message, name).append(_as(field, text))

    def assign(message: Any, text: str) -> None:
        setattr(message, name, _as(field, text))

    if field.type in _TEXT:
        yield Slot(f"{name}[0]", append) if field.is_repeated else Slot(name, assign)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        for inner in text_slots(_entry(field.message_type), depth + 1):
            if field.is_repeated:
                yield _within(lambda m: getattr(m, name).add(), f"{name}[0]", inner)
            else:
                yield _within(lambda m: getattr(m, name), name, inner)


def text_slots(descriptor: Descriptor, depth: int = 0) -> Iterator[Slot]:
    """Every string or bytes place in messages of this type, nested ones included."""
    if depth > MAX_DEPTH:
        return
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield from _map_slots(field, depth)
        else:
            yield from _field_slots(field, depth)


@dataclass
class GrpcCase:
    method: MethodDescriptor
    slot: Slot
    request: Any  # a message of the method's input type
    request_id: str | None  # the idempotency key it carried (refused: nothing stored under it)

    @property
    def name(self) -> str:
        return f"{self.method.name}.{self.slot.path}"


def grpc_cases(methods: list[MethodDescriptor], cards: CardNumbers) -> list[GrpcCase]:
    cases = []
    for method in methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        keyed = "request_id" in method.input_type.fields_by_name
        for slot in text_slots(method.input_type):
            request: Any = request_class()
            request_id = None
            if keyed and slot.path != "request_id":
                request_id = str(uuid.uuid4())
                request.request_id = request_id
            slot.put(request, cards.next())
            cases.append(GrpcCase(method, slot, request, request_id))
    return cases


@dataclass
class RestCase:
    route: Route
    where: str  # "path", "query", "body" or "header"
    field: str  # the violation's field
    url: str
    params: dict[str, str] = dataclass_field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = dataclass_field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.route.http_method} {self.route.path} {self.where}:{self.field}"


def _url(route: Route, values: dict[str, str]) -> str:
    url = route.path
    for name in route.path_params:
        url = url.replace(f"{{{name}}}", values.get(name, str(uuid.uuid4())))
    return url


def rest_cases(routes: list[Route], cards: CardNumbers) -> list[RestCase]:
    cases: list[RestCase] = []
    for route in routes:
        if route.raw_body:
            continue  # gateways' signed webhook bodies are exempt (tested apart)
        for name in route.path_params:
            cases.append(RestCase(route, "path", name, _url(route, {name: cards.next()})))
        for query in route.query_fields:
            if query.type in _TEXT:
                cases.append(
                    RestCase(
                        route, "query", query.name, _url(route, {}), {query.name: cards.next()}
                    )
                )
        if route.body == "*":
            bound = set(route.path_params)
            for body_field in route.request_type.fields:
                if body_field.name in bound:
                    continue
                cases += _body_cases(route, body_field, cards)
            for named in ("card_number", "cvc"):  # not in the contract: refused all the same
                cases.append(RestCase(route, "body", named, _url(route, {}), body={named: "1"}))
        if "request_id" in route.request_type.fields_by_name:
            cases.append(
                RestCase(
                    route, "header", "request_id", _url(route, {}),
                    body={} if route.body else None, headers={"Idempotency-Key": cards.next()},
                )
            )  # fmt: skip
    return cases


def _body_cases(route: Route, body_field: FieldDescriptor, cards: CardNumbers) -> list[RestCase]:
    name, url = body_field.name, _url(route, {})
    if body_field.message_type is not None and body_field.message_type.GetOptions().map_entry:
        return [
            RestCase(route, "body", f"{name}.note", url, body={name: {"note": cards.next()}}),
            RestCase(route, "body", name, url, body={name: {cards.next(): "x"}}),
        ]
    if body_field.type in _TEXT and body_field.is_repeated:
        return [RestCase(route, "body", f"{name}[0]", url, body={name: [cards.next()]})]
    if body_field.type in _TEXT:
        return [RestCase(route, "body", name, url, body={name: cards.next()})]
    return []


# --- looking for card numbers afterwards -----------------------------------------------------
def database_text(libpq_url: str) -> str:
    """Everything the database holds, as text: pg_dump's dump when pg_dump can dump this
    server, else every row of every table rendered as text."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is not None:
        done = subprocess.run(
            [pg_dump, "--no-owner", "--no-privileges", libpq_url],
            capture_output=True,
            check=False,
            timeout=120,
        )
        if done.returncode == 0:
            return readable_bytea(done.stdout.decode("utf-8", errors="replace"))
    return asyncio.run(_rows_as_text(libpq_url))


# pg_dump writes a bytea as `\\x` and its hex digits (doubled backslash in COPY text).
_BYTEA_HEX = re.compile(r"\\\\x([0-9a-f]+)")


def readable_bytea(dump: str) -> str:
    """The dump with each bytea value decoded: a card number stored in bytes (a published
    message, an answer) shows as digits, and hex digits (which can form a Luhn-valid run by
    chance) are not mistaken for one. Ciphertext decodes to noise without digit runs."""

    def decoded(match: re.Match[str]) -> str:
        raw = bytes.fromhex(match.group(1))
        return "".join(chr(b) if 32 <= b < 127 else "?" for b in raw)

    return _BYTEA_HEX.sub(decoded, dump)


async def _rows_as_text(libpq_url: str) -> str:
    conn = await asyncpg.connect(libpq_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        lines = []
        for schema, table in tables:
            rows = await conn.fetch(f'SELECT t::text FROM "{schema}"."{table}" AS t')
            lines += [f"{schema}.{table} {row[0]}" for row in rows]
        return "\n".join(lines)
    finally:
        await conn.close()


async def redis_text(client: Redis, prefix: str) -> str:
    """Every key under `prefix` and every value it holds, as text."""
    parts: list[bytes | str] = []
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        parts.append(key)
        kind = await client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            parts.append(await client.get(key) or b"")
        elif kind == "hash":
            for k, v in (await client.hgetall(key)).items():
                parts += [k, v]
        elif kind == "list":
            parts += await client.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(await client.smembers(key))
        elif kind == "zset":
            members = await client.zrange(key, 0, -1)
            parts += [m if isinstance(m, (bytes, str)) else str(m) for m in members]
    return "\n".join(p.decode("latin-1") if isinstance(p, bytes) else p for p in parts)
