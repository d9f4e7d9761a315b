"""The grpclib side of the betterproto2 client: the channel (TLS, mutual TLS, keepalive)
and the translation of what a failed grpclib call raises into the shared typed errors.

grpclib reports a failed call as GRPCError(status, message, details); its `details` here are
the raw bytes of the `grpc-status-details-bin` trailer (RawStatusDetails), decoded by the
same code as the grpcio client's (payments_client.errors.decode_status). A deadline is
asyncio's TimeoutError and a lost or refused connection an OSError or a terminated stream:
those become DEADLINE_EXCEEDED and UNAVAILABLE, as grpcio reports them.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

import grpclib.client
import grpclib.config
import grpclib.const
import grpclib.exceptions
from grpclib.encoding.base import StatusDetailsCodecBase

from payments_client.channels import Keepalive, Tls
from payments_client.errors import PaymentsError, decode_status, error_class, status_code

DEFAULT_TLS_PORT = 443


class RawStatusDetails(StatusDetailsCodecBase):
    """Keeps the serialized google.rpc.Status as it came, for decode_status."""

    def encode(self, status: grpclib.const.Status, message: str | None, details: Any) -> bytes:
        raise NotImplementedError("a client does not send status details")

    def decode(self, status: grpclib.const.Status, message: str | None, data: bytes) -> bytes:
        return data


def split_target(target: str, *, tls: bool) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`); without a port, 443 for TLS as grpcio does."""
    host, sep, port = target.rpartition(":")
    if not sep or host.endswith(":") or (host.startswith("[") != host.endswith("]")):
        if tls:
            return target.strip("[]"), DEFAULT_TLS_PORT
        raise ValueError(f"target {target!r} is not host:port")
    return host.strip("[]"), int(port)


def ssl_context(tls: Tls) -> ssl.SSLContext:
    """TLS as the grpcio client's `Tls` describes it: the roots to trust (None: the system's)
    and, for mutual TLS, the client's certificate and key."""
    roots = tls.root_certificates.decode() if tls.root_certificates else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=roots)
    if tls.certificate_chain is not None and tls.private_key is not None:
        # The ssl module loads a certificate and key only from files: private ones, removed
        # as soon as they are read.
        with tempfile.TemporaryDirectory() as private:
            cert, key = Path(private) / "cert.pem", Path(private) / "key.pem"
            cert.write_bytes(tls.certificate_chain)
            key.touch(mode=0o600)
            key.write_bytes(tls.private_key)
            context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])  # gRPC is HTTP/2
    return context


def make_channel(
    target: str,
    *,
    tls: Tls | None,
    context: ssl.SSLContext | None,
    keepalive: Keepalive | None,
) -> grpclib.client.Channel:
    secure = tls is not None or context is not None
    host, port = split_target(target, tls=secure)
    if context is None and tls is not None:
        context = ssl_context(tls)
    config = grpclib.config.Configuration(
        _keepalive_time=keepalive.time_ms / 1000 if keepalive else None,
        _keepalive_timeout=keepalive.timeout_ms / 1000 if keepalive else 20.0,
        _keepalive_permit_without_calls=keepalive.permit_without_calls if keepalive else False,
        ssl_target_name_override=tls.server_name if tls is not None else None,
    )
    return grpclib.client.Channel(
        host, port, ssl=context, config=config, status_details_codec=RawStatusDetails()
    )


def failed_call(failed: Exception) -> PaymentsError | None:
    """The typed error of what a grpclib call raised, or None: not a call's failure."""
    if isinstance(failed, grpclib.exceptions.GRPCError):
        details = failed.details if isinstance(failed.details, bytes) else None
        return decode_status(status_code(failed.status.value), failed.message or "", details)
    # TimeoutError first: it is an OSError too.
    if isinstance(failed, TimeoutError):
        return _transport_error(grpclib.const.Status.DEADLINE_EXCEEDED, "deadline exceeded")
    if isinstance(failed, OSError | grpclib.exceptions.StreamTerminatedError):
        message = f"{type(failed).__name__}: {failed}"
        return _transport_error(grpclib.const.Status.UNAVAILABLE, message)
    return None


def _transport_error(status: grpclib.const.Status, message: str) -> PaymentsError:
    code = status_code(status.value)
    return error_class(code, "")(code=code, message=message)
