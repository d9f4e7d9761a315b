"""How tests reach a server: every gRPC channel and REST header set a test opens comes from
here, so that what a caller must present (credentials, TLS) is decided in one place."""

from __future__ import annotations

import grpc


def open_channel(target: str) -> grpc.aio.Channel:
    """A channel to a test server at `target` (host:port)."""
    return grpc.aio.insecure_channel(target)


def open_tls_channel(
    target: str, root_cert: bytes, client_cert: tuple[bytes, bytes] | None = None
) -> grpc.aio.Channel:
    """A TLS channel to a test server at `target` (host:port) whose certificate `root_cert`
    (PEM) signed; `client_cert` is (certificate PEM, key PEM) for mutual TLS."""
    cert, key = client_cert if client_cert is not None else (None, None)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_cert, private_key=key, certificate_chain=cert
    )
    return grpc.aio.secure_channel(target, credentials)


def rest_headers() -> dict[str, str]:
    """Headers every REST request of a test carries."""
    return {}
