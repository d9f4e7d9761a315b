"""Signing webhooks the way the gateways do, for tests: Stripe with the `stripe` library's
helper, PayPal with a test RSA certificate chain (a test CA) served from a loopback HTTP
server."""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The Stripe webhook secret of the session's server (tests/conftest.py): the access matrix
# opens its disputes with signed Stripe webhooks.
SESSION_STRIPE_SECRET = "whsec_session"


def stripe_header(body: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send, computed by stripe-python itself."""
    return str(stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp))


def stripe_body(event_id: str, type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": type_, "created": 1_700_000_000,
         "data": {"object": obj}}
    ).encode()  # fmt: skip


PAYPAL_CERT_NAME = "messageverificationcerts.paypal.com"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: tuple[str, rsa.RSAPrivateKey] | None,
    *, ca: bool, days: tuple[int, int], san: str = "",
) -> x509.Certificate:  # fmt: skip
    """A certificate in the Web PKI profile `cryptography`'s verifier expects (SKI/AKI, key
    usage, for a leaf a SAN and serverAuth), like DigiCert's chain to PayPal's certificate."""
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if ca:
        builder = builder.add_extension(_ca_usage(), critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san or subject)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class PaypalTestSigner:
    """A test CA (root, intermediate) and a signing certificate it issued to PayPal's name;
    `pem` is what PAYPAL-CERT-URL serves (leaf then intermediate), `root_pem` the CA bundle
    to trust."""

    key: rsa.RSAPrivateKey
    pem: bytes
    root_pem: bytes

    @classmethod
    def create(
        cls, *, valid_days: tuple[int, int] = (-1, 30), name: str = PAYPAL_CERT_NAME,
        self_signed: bool = False, with_intermediate: bool = True,
    ) -> PaypalTestSigner:  # fmt: skip
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root = _certificate("Test Root CA", root_key, None, ca=True, days=(-2, 60))
        inter = _certificate(
            "Test TLS CA", inter_key, ("Test Root CA", root_key), ca=True, days=(-2, 60)
        )
        issuer = None if self_signed else ("Test TLS CA", inter_key)
        leaf = _certificate(name, key, issuer, ca=False, days=valid_days, san=name)
        served = _pem(leaf, inter) if with_intermediate and not self_signed else _pem(leaf)
        return cls(key, served, _pem(root))

    def roots(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.root_pem)

    def headers(
        self, body: bytes, webhook_id: str, cert_url: str, transmission_id: str = "tx-1"
    ) -> dict[str, str]:
        when = "2025-03-01T12:00:00Z"
        message = f"{transmission_id}|{when}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}"
        signature = self.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return {
            "paypal-transmission-id": transmission_id,
            "paypal-transmission-time": when,
            "paypal-transmission-sig": base64.b64encode(signature).decode(),
            "paypal-cert-url": cert_url,
            "paypal-auth-algo": "SHA256withRSA",
        }


class PemServer:
    """Answers every GET with the certificate; counts the fetches."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.fetches = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def cert_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/notifications/certs/CERT-test"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            self.fetches += 1
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.pem)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + self.pem)
            await writer.drain()
        finally:
            writer.close()
