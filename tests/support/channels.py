"""How tests reach a server: every gRPC channel and REST header set a test opens comes from
here, so that what a caller must present (credentials, TLS) is decided in one place."""

from __future__ import annotations

import grpc


def open_channel(target: str) -> grpc.aio.Channel:
    """A channel to a test server at `target` (host:port)."""
    return grpc.aio.insecure_channel(target)


def rest_headers() -> dict[str, str]:
    """Headers every REST request of a test carries."""
    return {}
