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


class BearerToken(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds `authorization: Bearer <token>` to every call that does not carry its own (a
    client interceptor for channels made by hand; PaymentsClient installs it itself)."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or ())
        if not any(key == "authorization" for key, _ in metadata):
            token = self._token() if callable(self._token) else self._token
            metadata.append(("authorization", f"Bearer {token}"))
        details = client_call_details._replace(metadata=grpc.aio.Metadata(*metadata))
        return await continuation(details, request)


class PaymentsClient:
    """One channel to the service. Use `async with`, or call `close()`.

    `token`: the bearer token sent with every call, or a function returning the current one
    (called per call, so it can refresh an expiring token)."""

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: list[tuple[str, Any]] | None = None,
        token: str | Callable[[], str] | None = None,
    ) -> None:
        interceptors: list[Any] = [_RaisePaymentsError()]
        if token is not None:
            interceptors.append(BearerToken(token))
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
