"""A PaymentGateway that times each call of the gateway it wraps (Prometheus histogram by
gateway, operation and outcome) and, with tracing on, makes it a span (the gateway's HTTP
calls are spans inside it). Wrapped in the composition root; the domain never knows."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from opentelemetry.trace import Tracer

from domain.enums import GatewayName, PaymentMethodType
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    PaymentGateway,
    PaymentMethodDetails,
)
from server.metrics import ServiceMetrics

T = TypeVar("T")


class TimedGateway:
    def __init__(
        self, inner: PaymentGateway, metrics: ServiceMetrics, tracer: Tracer | None = None
    ) -> None:
        self.inner = inner
        self._histogram = metrics.gateway_latency
        self._tracer = tracer

    @property
    def name(self) -> GatewayName:
        return self.inner.name

    @property
    def capabilities(self) -> GatewayCapabilities:
        return self.inner.capabilities

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        if self._tracer is None:
            return await self._measured(operation, call)
        with self._tracer.start_as_current_span(
            f"gateway {self.inner.name.value} {operation}",
            attributes={"payment.gateway": self.inner.name.value, "payment.operation": operation},
        ):
            return await self._measured(operation, call)

    async def _measured(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call()
            status = getattr(result, "status", None)
            outcome = str(status.value).lower() if status is not None else "ok"
            return result
        finally:
            self._histogram.labels(
                gateway=self.inner.name.value, operation=operation, outcome=outcome
            ).observe(time.perf_counter() - started)

    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        return await self._timed("authorize", lambda: self.inner.authorize(request))

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        return await self._timed("confirm", lambda: self.inner.confirm(request))

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._timed("capture", lambda: self.inner.capture(request))

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._timed("void", lambda: self.inner.void(request))

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._timed("refund", lambda: self.inner.refund(request))

    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        return await self._timed("lookup", lambda: self.inner.lookup(request))

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails:
        return await self._timed(
            "describe_payment_method",
            lambda: self.inner.describe_payment_method(token, method_type),
        )

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        return await self._timed(
            "attach_to_customer", lambda: self.inner.attach_to_customer(request)
        )


def timed(
    gateways: dict[GatewayName, PaymentGateway],
    metrics: ServiceMetrics,
    tracer: Tracer | None = None,
) -> dict[GatewayName, PaymentGateway]:
    return {name: TimedGateway(gateway, metrics, tracer) for name, gateway in gateways.items()}
