"""How tests reach a server: every gRPC channel and REST header set a test opens comes from
here, so that what a caller must present (credentials, TLS) is decided in one place.

By default both carry this session's admin token (tests/support/auth.py); pass `token` to
call as someone else, or `token=None` to call without one."""

from __future__ import annotations

import grpc

from payments_client import BearerToken
from tests.support.auth import admin_token

_DEFAULT = "default"  # a sentinel: the session's admin token


def _token(token: str | None) -> str | None:
    return admin_token() if token == _DEFAULT else token


def open_channel(
    target: str, *, token: str | None = _DEFAULT, own_connection: bool = False
) -> grpc.aio.Channel:
    """A channel to a test server at `target` (host:port). `own_connection`: a connection
    of its own, not one shared with this process's other channels to the same target
    (gRPC's global subchannel pool), so that a multi-worker server may hand it to any
    worker."""
    bearer = _token(token)
    interceptors = [BearerToken(bearer)] if bearer is not None else None
    options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else None
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)


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
    interceptors = [BearerToken(bearer)] if bearer is not None else None
    return grpc.aio.secure_channel(target, credentials, interceptors=interceptors)


def rest_headers(*, token: str | None = _DEFAULT) -> dict[str, str]:
    """Headers every REST request of a test carries."""
    bearer = _token(token)
    return {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
