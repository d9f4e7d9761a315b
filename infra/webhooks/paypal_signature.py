"""PayPal webhook verification (developer.paypal.com/api/rest/webhooks/rest/).

Locally: the signed string is `transmission_id|transmission_time|webhook_id|crc32(body)`
(crc32 as an unsigned decimal), signed SHA256withRSA with the certificate at PAYPAL-CERT-URL.
The certificate is fetched only from allowed hosts (PayPal's), cached, and trusted only through
its chain to a trusted CA (infra/webhooks/paypal_certificates.py). Or remotely, through
PayPal's `POST /v1/notifications/verify-webhook-signature`.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from domain.errors import WebhookSignatureInvalid
from infra.gateways.paypal_client import PayPalClient
from infra.webhooks.paypal_certificates import PaypalCertificateStore, PaypalCertificateTrust

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


class PaypalVerifier(Protocol):
    async def verify(self, body: bytes, headers: PaypalSignatureHeaders) -> None:
        """Raises WebhookSignatureInvalid unless PayPal signed this body."""


class PaypalLocalVerifier:
    def __init__(
        self,
        webhook_id: str,
        certificates: PaypalCertificateStore,
        trust: PaypalCertificateTrust,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._webhook_id = webhook_id
        self._certificates = certificates
        self._trust = trust
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
        chain = await self._certificates.get(headers.cert_url)
        # Checked on every use, not only when fetched: a cached certificate expires too.
        key = self._trust.signing_key(chain, self._clock())
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
