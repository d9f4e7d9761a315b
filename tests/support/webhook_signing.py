"""Signing webhooks the way the gateways do, for tests: Stripe with the `stripe` library's
helper, PayPal with a self-signed test RSA certificate served from a loopback HTTP server."""

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
from cryptography.x509.oid import NameOID


def stripe_header(body: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send, computed by stripe-python itself."""
    return str(stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp))


def stripe_body(event_id: str, type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": type_, "created": 1_700_000_000,
         "data": {"object": obj}}
    ).encode()  # fmt: skip


@dataclass
class PaypalTestSigner:
    key: rsa.RSAPrivateKey
    pem: bytes

    @classmethod
    def create(cls, *, valid_days: int = 30) -> PaypalTestSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=valid_days))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(serialization.Encoding.PEM))

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
