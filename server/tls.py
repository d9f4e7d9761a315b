"""TLS for the two listeners (PCI DSS 4.2): the gRPC server and the REST shim, from
TLS_CERT_FILE / TLS_KEY_FILE, with client certificates checked against TLS_CLIENT_CA_FILE.

Versions: the REST shim's context refuses anything below TLS 1.2; OpenSSL picks TLS 1.3 with
every client that offers it. gRPC's own TLS stack (BoringSSL inside grpcio) allows TLS 1.2 and
1.3 only, and grpcio does not let Python lower that (tests/e2e/test_tls.py checks both ports).

Client certificates: with TLS_REQUIRE_CLIENT_CERT both listeners demand one signed by the CA.
With the CA alone, the REST shim verifies a certificate a client chooses to present; grpcio's
ssl_server_credentials cannot ask for an optional certificate (it requests none unless it
requires one), so on the gRPC port the CA matters only when certificates are required.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from server.transport_config import TransportSettings

MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2


def _read(path: Path) -> bytes:
    return path.read_bytes()


def grpc_server_credentials(settings: TransportSettings) -> grpc.ServerCredentials | None:
    """Credentials for the gRPC port, or None when TLS is not configured (plaintext)."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    require = settings.tls_require_client_cert
    client_ca = settings.tls_client_ca_file
    return grpc.ssl_server_credentials(
        [(_read(settings.tls_key_file), _read(settings.tls_cert_file))],
        root_certificates=_read(client_ca) if require and client_ca is not None else None,
        require_client_auth=require,
    )


def rest_ssl_context(settings: TransportSettings) -> ssl.SSLContext | None:
    """The REST shim's server context, or None when TLS is not configured (plaintext)."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_TLS_VERSION
    # No TLS compression (CRIME), no renegotiation (a client-driven CPU cost).
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_client_ca_file is not None:
        context.load_verify_locations(cafile=settings.tls_client_ca_file)
        context.verify_mode = (
            ssl.CERT_REQUIRED if settings.tls_require_client_cert else ssl.CERT_OPTIONAL
        )
    context.set_alpn_protocols(["http/1.1"])
    return context
