"""The channel, the stubs, and the error-translating interceptor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import grpc

from payments.v1 import payment_method_service_pb2_grpc, payment_service_pb2_grpc
from payments_client.errors import PaymentsError


class _RaisePaymentsError(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        call = await continuation(client_call_details, request)
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise PaymentsError.from_rpc_error(error) from error


class PaymentsClient:
    """One channel to the service. Use `async with`, or call `close()`."""

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: list[tuple[str, Any]] | None = None,
    ) -> None:
        interceptors = [_RaisePaymentsError()]
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(
                target, options=options, interceptors=interceptors
            )
        else:
            self.channel = grpc.aio.secure_channel(
                target, credentials, options=options, interceptors=interceptors
            )
        self.payments = payment_service_pb2_grpc.PaymentServiceStub(self.channel)
        self.payment_methods = payment_method_service_pb2_grpc.PaymentMethodServiceStub(
            self.channel
        )

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> PaymentsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
