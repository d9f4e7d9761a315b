"""The service's interceptors run as one (server/interceptors.py ComposedInterceptor): each
method's handler is wrapped by every layer once, on its first call, and later calls reuse
it; the layers still run in the server's order. And the per-RPC log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from server import interceptors
from server.interceptors import Behavior, ComposedInterceptor, RequestInterceptor, UnaryInterceptor

METHOD = "/payments.v1.PaymentService/GetPayment"
OTHER = "/payments.v1.PaymentService/CapturePayment"


class Recording(UnaryInterceptor):
    """A layer that counts how often it wraps a handler and notes when its wrapper runs."""

    def __init__(self, name: str, ran: list[str]) -> None:
        self.name, self.ran, self.wraps = name, ran, 0

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        self.wraps += 1

        async def wrapped(request: Any, context: Any) -> Any:
            self.ran.append(self.name)
            return await behavior(request, context)

        return wrapped


class Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


class Handlers:
    """The server's handler look-up (the continuation), counting its calls."""

    def __init__(self, ran: list[str]) -> None:
        self.ran, self.lookups = ran, 0

    async def __call__(self, details: Details) -> grpc.RpcMethodHandler | None:
        self.lookups += 1
        if details.method not in (METHOD, OTHER):
            return None

        async def handler(request: Any, context: Any) -> str:
            self.ran.append("handler")
            return f"answer to {request}"

        return grpc.unary_unary_rpc_method_handler(handler)


@pytest.fixture
def ran() -> list[str]:
    return []


async def test_each_method_is_composed_once_and_then_reused(ran: list[str]) -> None:
    outer, inner = Recording("outer", ran), Recording("inner", ran)
    chain, handlers = ComposedInterceptor([outer, inner]), Handlers(ran)
    first = await chain.intercept_service(handlers, Details(METHOD))
    for _ in range(5):
        assert await chain.intercept_service(handlers, Details(METHOD)) is first
    await chain.intercept_service(handlers, Details(OTHER))
    await chain.intercept_service(handlers, Details(OTHER))
    assert chain.compositions == 2
    assert (outer.wraps, inner.wraps) == (2, 2)
    assert handlers.lookups == 2


async def test_the_layers_run_outermost_first_on_every_call(ran: list[str]) -> None:
    chain = ComposedInterceptor([Recording("outer", ran), Recording("inner", ran)])
    for n in range(3):
        handler = await chain.intercept_service(Handlers(ran), Details(METHOD))
        assert await handler.unary_unary(n, None) == f"answer to {n}"
    assert ran == ["outer", "inner", "handler"] * 3


async def test_unknown_methods_are_not_remembered(ran: list[str]) -> None:
    chain, handlers = ComposedInterceptor([Recording("only", ran)]), Handlers(ran)
    for n in range(3):
        assert await chain.intercept_service(handlers, Details(f"/x.Made/Up{n}")) is None
    assert chain.compositions == 0
    assert handlers.lookups == 3


async def test_health_and_reflection_pass_through_the_layers_untouched(ran: list[str]) -> None:
    layer = Recording("layer", ran)

    async def health(details: Details) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(lambda request, context: "SERVING")

    plain = await health(Details("/grpc.health.v1.Health/Check"))
    chain = ComposedInterceptor([layer])
    composed = await chain.intercept_service(health, Details("/grpc.health.v1.Health/Check"))
    assert composed.unary_unary(None, None) == plain.unary_unary(None, None)
    assert layer.wraps == 0


class Context:
    """What RequestInterceptor asks of a call's context."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def invocation_metadata(self) -> tuple[Any, ...]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"

    async def send_initial_metadata(self, metadata: Any) -> None:
        self.sent.append(metadata)


class Collecting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def rpc_records() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("payments.rpc")
    handler = Collecting()
    level = logger.level
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


async def _one_call() -> None:
    async def behavior(request: Any, context: Any) -> str:
        return "ok"

    wrapped = RequestInterceptor().wrap(METHOD, behavior)
    assert await wrapped(None, Context()) == "ok"


async def test_each_call_logs_one_line_with_its_outcome(
    rpc_records: list[logging.LogRecord],
) -> None:
    logging.getLogger("payments.rpc").setLevel(logging.INFO)
    await _one_call()
    [record] = rpc_records
    assert record.getMessage().startswith(f"rpc {METHOD} OK ")
    assert (record.rpc, record.outcome) == (METHOD, "OK")  # type: ignore[attr-defined]


async def test_a_muted_line_is_not_even_prepared(
    rpc_records: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[tuple[Any, ...]] = []
    monkeypatch.setattr(interceptors, "_log_rpc", lambda *line: prepared.append(line))
    logging.getLogger("payments.rpc").setLevel(logging.WARNING)
    await _one_call()
    assert prepared == []  # no duration computed, no extra fields built
    logging.getLogger("payments.rpc").setLevel(logging.INFO)
    await _one_call()
    assert len(prepared) == 1
