"""How tests reach a server: every gRPC channel and REST header set a test opens comes from
here, so that what a caller must present (credentials, TLS) is decided in one place.

By default both carry this session's admin token (tests/support/auth.py); pass `token` to
call as someone else, or `token=None` to call without one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from tests.support.auth import admin_token

_DEFAULT = "default"  # a sentinel: the session's admin token


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds the token to every call that does not carry an authorization of its own."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or ())
        if not any(key == "authorization" for key, _ in metadata):
            metadata.append(self._header)
        return await continuation(
            client_call_details._replace(metadata=grpc.aio.Metadata(*metadata)), request
        )


def _token(token: str | None) -> str | None:
    return admin_token() if token == _DEFAULT else token


def open_channel(target: str, *, token: str | None = _DEFAULT) -> grpc.aio.Channel:
    """A channel to a test server at `target` (host:port)."""
    bearer = _token(token)
    interceptors = [_Bearer(bearer)] if bearer is not None else None
    return grpc.aio.insecure_channel(target, interceptors=interceptors)


def open_tls_channel(
    target: str,
    root_cert: bytes,
    client_cert: tuple[bytes, bytes] | None = None,
    *,
    token: str | None = _DEFAULT,
) -> grpc.aio.Channel:
    """A TLS channel to a test server at `target` (host:port) whose certificate `root_cert`
    (PEM) signed; `client_cert` is (certificate PEM, key PEM) for mutual TLS."""
    cert, key = client_cert if client_cert is not None else (None, None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_cert, private_key=key, certificate_chain=cert
    )
    bearer = _token(token)
    interceptors = [_Bearer(bearer)] if bearer is not None else None
    return grpc.aio.secure_channel(target, credentials, interceptors=interceptors)


def rest_headers(*, token: str | None = _DEFAULT) -> dict[str, str]:
    """Headers every REST request of a test carries."""
    bearer = _token(token)
    return {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
