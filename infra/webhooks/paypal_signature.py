"""PayPal webhook verification (developer.paypal.com/api/rest/webhooks/rest/).

Locally: the signed string is `transmission_id|transmission_time|webhook_id|crc32(body)`
(crc32 as an unsigned decimal), signed SHA256withRSA with the certificate at PAYPAL-CERT-URL.
The certificate is fetched only from allowed hosts (PayPal's) and cached. Or remotely, through
PayPal's `POST /v1/notifications/verify-webhook-signature`.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from domain.errors import WebhookSignatureInvalid
from infra.gateways.paypal_client import PayPalClient

DEFAULT_CERT_HOSTS = (".paypal.com",)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SUPPORTED_ALGORITHM = "SHA256withRSA"


@dataclass(frozen=True, slots=True)
class PaypalSignatureHeaders:
    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> PaypalSignatureHeaders:
        names = ("id", "time", "sig")
        values = {n: metadata.get(f"paypal-transmission-{n}", "") for n in names}
        headers = cls(
            values["id"],
            values["time"],
            values["sig"],
            metadata.get("paypal-cert-url", ""),
            metadata.get("paypal-auth-algo", ""),
        )
        if not all((headers.transmission_id, headers.transmission_time,
                    headers.transmission_sig, headers.cert_url, headers.auth_algo)):  # fmt: skip
            raise WebhookSignatureInvalid("a PayPal transmission header is missing")
        return headers


def signed_message(headers: PaypalSignatureHeaders, webhook_id: str, body: bytes) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{headers.transmission_id}|{headers.transmission_time}|{webhook_id}|{crc}".encode()


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """An entry starting with a dot allows that domain's subdomains; others match exactly."""
    host = host.lower().rstrip(".")
    for pattern in (entry.lower().strip() for entry in allowed):
        if pattern.startswith(".") and host.endswith(pattern):
            return True
        if host == pattern:
            return True
    return False


class PaypalCertificateStore:
    """Certificates by URL, fetched once from allowed hosts only (https, except loopback)."""

    def __init__(
        self, http: httpx.AsyncClient, allowed_hosts: Sequence[str] = DEFAULT_CERT_HOSTS,
        max_entries: int = 64,
    ) -> None:  # fmt: skip
        self._http = http
        self._allowed = tuple(allowed_hosts)
        self._max = max_entries
        self._cache: dict[str, x509.Certificate] = {}

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host_allowed(host, self._allowed):
            raise WebhookSignatureInvalid("PAYPAL-CERT-URL is not on an allowed PayPal host")
        if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
            raise WebhookSignatureInvalid("PAYPAL-CERT-URL must be https")

    async def get(self, url: str) -> x509.Certificate:
        self._check_url(url)
        cached = self._cache.get(url)
        if cached is not None:
            return cached
        try:
            response = await self._http.get(url, follow_redirects=False)
        except httpx.HTTPError:
            raise WebhookSignatureInvalid("the PayPal certificate could not be fetched") from None
        if response.status_code != 200:
            raise WebhookSignatureInvalid("the PayPal certificate could not be fetched")
        try:
            cert = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise WebhookSignatureInvalid(
                "the PayPal certificate is not a PEM certificate"
            ) from None
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = cert
        return cert


class PaypalVerifier(Protocol):
    async def verify(self, body: bytes, headers: PaypalSignatureHeaders) -> None:
        """Raises WebhookSignatureInvalid unless PayPal signed this body."""


class PaypalLocalVerifier:
    def __init__(
        self,
        webhook_id: str,
        certificates: PaypalCertificateStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._webhook_id = webhook_id
        self._certificates = certificates
        self._clock = clock

    async def verify(self, body: bytes, headers: PaypalSignatureHeaders) -> None:
        if not self._webhook_id:
            raise WebhookSignatureInvalid("no PayPal webhook id is configured")
        if headers.auth_algo != SUPPORTED_ALGORITHM:
            raise WebhookSignatureInvalid("unsupported PAYPAL-AUTH-ALGO")
        try:
            signature = base64.b64decode(headers.transmission_sig, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookSignatureInvalid("PAYPAL-TRANSMISSION-SIG is not base64") from None
        cert = await self._certificates.get(headers.cert_url)
        now = self._clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookSignatureInvalid("the PayPal certificate is not valid now")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookSignatureInvalid("the PayPal certificate has no RSA key")
        message = signed_message(headers, self._webhook_id, body)
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookSignatureInvalid("the PayPal signature does not match") from None


class PaypalApiVerifier:
    """Asks PayPal (verify-webhook-signature) instead of checking the signature here."""

    def __init__(self, webhook_id: str, client: PayPalClient) -> None:
        self._webhook_id = webhook_id
        self._client = client

    async def verify(self, body: bytes, headers: PaypalSignatureHeaders) -> None:
        if not self._webhook_id:
            raise WebhookSignatureInvalid("no PayPal webhook id is configured")
        try:
            event = json.loads(body)
        except ValueError:
            raise WebhookSignatureInvalid("the PayPal webhook body is not JSON") from None
        request = {
            "auth_algo": headers.auth_algo,
            "cert_url": headers.cert_url,
            "transmission_id": headers.transmission_id,
            "transmission_sig": headers.transmission_sig,
            "transmission_time": headers.transmission_time,
            "webhook_id": self._webhook_id,
            "webhook_event": event,
        }
        answer = await self._client.post(
            "/v1/notifications/verify-webhook-signature",
            request,
            request_id=f"verify-{headers.transmission_id}",
        )
        if not answer.ok or answer.body.get("verification_status") != "SUCCESS":
            raise WebhookSignatureInvalid("PayPal did not verify the webhook signature")
