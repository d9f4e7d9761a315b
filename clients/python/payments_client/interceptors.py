"""Client interceptors for channels made by hand (the clients' raw stubs use them too)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from payments_client.errors import PaymentsError


class RaisePaymentsError(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Turns a failed call's grpc.aio.AioRpcError into the typed PaymentsError."""

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
    """Adds `authorization: Bearer <token>` to every call that does not carry its own.
    `token`: the token, or a function (plain or async) returning the current one."""

    def __init__(self, token: str | Callable[[], str] | Callable[[], Awaitable[str]]) -> None:
        self._token = token

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or ())
        if not any(key == "authorization" for key, _ in metadata):
            token: object = self._token() if callable(self._token) else self._token
            if inspect.isawaitable(token):
                token = await token
            metadata.append(("authorization", f"Bearer {token}"))
        details = client_call_details._replace(metadata=grpc.aio.Metadata(*metadata))
        return await continuation(details, request)
