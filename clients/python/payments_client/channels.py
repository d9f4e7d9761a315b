"""Transport settings shared by the async and the sync client: TLS, mutual TLS, keepalive,
the bearer token, and the environment variables of `from_env`."""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from payments_client.policy import (
    DEFAULT_READ_DEADLINE,
    DEFAULT_WRITE_DEADLINE,
    CallSettings,
    RetryPolicy,
)

# A bearer token, or a function giving the current one (called before every attempt, so it
# may refresh an expiring token); the async client also accepts a coroutine function.
SyncTokenProvider = Callable[[], str]
AsyncTokenProvider = Callable[[], Awaitable[str]]


async def token_metadata(
    token: str | SyncTokenProvider | AsyncTokenProvider | None,
) -> list[tuple[str, str]]:
    """The `authorization` header of one attempt (none without a token), asking a provider
    each time. Shared by the async clients (grpcio's and betterproto2's)."""
    if token is None:
        return []
    current: object = token() if callable(token) else token
    if inspect.isawaitable(current):
        current = await current
    return [("authorization", f"Bearer {current}")]


@dataclass(frozen=True)
class Tls:
    """TLS to the service. `root_certificates` (PEM) to trust a private CA (None: the
    system's roots); `certificate_chain` and `private_key` (PEM) for mutual TLS."""

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    # The name the server's certificate must carry, when it differs from the target's host.
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def __repr__(self) -> str:  # never show a private key
        mutual = self.private_key is not None
        return f"Tls(custom_roots={self.root_certificates is not None}, mutual={mutual})"


@dataclass(frozen=True)
class Keepalive:
    """HTTP/2 keepalive pings while calls are open, so that a dead connection is noticed
    (the server's default policy allows one ping per 5 minutes without calls)."""

    time_ms: int = 60_000
    timeout_ms: int = 20_000
    permit_without_calls: bool = False

    def options(self) -> list[tuple[str, Any]]:
        return [
            ("grpc.keepalive_time_ms", self.time_ms),
            ("grpc.keepalive_timeout_ms", self.timeout_ms),
            ("grpc.keepalive_permit_without_calls", int(self.permit_without_calls)),
        ]


def channel_options(
    tls: Tls | None, keepalive: Keepalive | None, extra: list[tuple[str, Any]] | None
) -> list[tuple[str, Any]]:
    options = list(keepalive.options() if keepalive is not None else [])
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options + list(extra or [])


@dataclass(frozen=True)
class EnvConfig:
    """What `from_env` reads:

    PAYMENTS_GRPC_TARGET   host:port (default 127.0.0.1:9090); an `https://` prefix turns
                           TLS on, `http://` is plaintext
    PAYMENTS_TOKEN         the bearer token
    PAYMENTS_TLS           1/true: TLS with the system's roots (implied by the next three)
    PAYMENTS_TLS_CA        path of a PEM bundle of the roots to trust
    PAYMENTS_TLS_CERT, PAYMENTS_TLS_KEY  paths of the client certificate and key (mutual TLS)
    PAYMENTS_TLS_SERVER_NAME  the name expected in the server's certificate
    PAYMENTS_READ_DEADLINE, PAYMENTS_WRITE_DEADLINE  seconds per attempt (defaults 5 / 30)
    PAYMENTS_MAX_ATTEMPTS  attempts per logical call, retries included (default 5)
    """

    target: str
    token: str | None
    tls: Tls | None
    settings: CallSettings

    def client_kwargs(self) -> dict[str, Any]:
        """The keyword arguments both clients take from it (the target aside)."""
        return {"token": self.token, "tls": self.tls, "settings": self.settings}

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> EnvConfig:
        env = os.environ if environ is None else environ
        target = env.get("PAYMENTS_GRPC_TARGET", "").strip() or "127.0.0.1:9090"
        use_tls = env.get("PAYMENTS_TLS", "").lower() in {"1", "true", "yes"}
        if target.startswith("https://"):
            target, use_tls = target.removeprefix("https://"), True
        target = target.removeprefix("http://").rstrip("/")
        ca, cert, key = (
            env.get(name) for name in ("PAYMENTS_TLS_CA", "PAYMENTS_TLS_CERT", "PAYMENTS_TLS_KEY")
        )
        if bool(cert) != bool(key):
            raise ValueError("PAYMENTS_TLS_CERT and PAYMENTS_TLS_KEY go together (mutual TLS)")
        tls = None
        if use_tls or ca or cert:
            tls = Tls(
                root_certificates=Path(ca).read_bytes() if ca else None,
                certificate_chain=Path(cert).read_bytes() if cert else None,
                private_key=Path(key).read_bytes() if key else None,
                server_name=env.get("PAYMENTS_TLS_SERVER_NAME") or None,
            )
        settings = CallSettings(
            retry=RetryPolicy(max_attempts=int(env.get("PAYMENTS_MAX_ATTEMPTS", "5"))),
            read_deadline=float(env.get("PAYMENTS_READ_DEADLINE", DEFAULT_READ_DEADLINE)),
            write_deadline=float(env.get("PAYMENTS_WRITE_DEADLINE", DEFAULT_WRITE_DEADLINE)),
        )
        return cls(target, env.get("PAYMENTS_TOKEN") or None, tls, settings)

    def __repr__(self) -> str:  # never show the token
        token = "set" if self.token else "unset"
        return f"EnvConfig(target={self.target!r}, tls={self.tls!r}, token={token})"
