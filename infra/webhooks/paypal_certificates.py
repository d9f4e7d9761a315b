"""The certificates PayPal signs webhooks with: fetched from PAYPAL-CERT-URL (PayPal's hosts
only, cached) and trusted only through a chain to a CA of a trusted bundle (certifi's Mozilla
bundle by default), valid now, and issued to PayPal's message verification name."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import DNSName
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from domain.errors import WebhookSignatureInvalid

DEFAULT_CERT_HOSTS = (".paypal.com",)
# The subject PayPal's signing certificates are issued to (live; sandbox has its own).
DEFAULT_CERT_NAMES = (
    "messageverificationcerts.paypal.com",
    "messageverificationcerts.sandbox.paypal.com",
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


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
    """Certificate chains by URL (leaf first, then intermediates, as PayPal serves them),
    fetched once from allowed hosts only (https, except loopback)."""

    def __init__(
        self, http: httpx.AsyncClient, allowed_hosts: Sequence[str] = DEFAULT_CERT_HOSTS,
        max_entries: int = 64,
    ) -> None:  # fmt: skip
        self._http = http
        self._allowed = tuple(allowed_hosts)
        self._max = max_entries
        self._cache: dict[str, list[x509.Certificate]] = {}

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host_allowed(host, self._allowed):
            raise WebhookSignatureInvalid("PAYPAL-CERT-URL is not on an allowed PayPal host")
        if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
            raise WebhookSignatureInvalid("PAYPAL-CERT-URL must be https")

    async def get(self, url: str) -> list[x509.Certificate]:
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
            chain = x509.load_pem_x509_certificates(response.content)
        except ValueError:
            raise WebhookSignatureInvalid(
                "the PayPal certificate is not a PEM certificate"
            ) from None
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = chain
        return chain


_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def load_trust_roots(bundle: Path | None = None) -> list[x509.Certificate]:
    """The CA certificates of a PEM bundle; certifi's when none is named. One root that this
    `cryptography` no longer parses (old roots carry non-RFC 5280 serials) is skipped rather
    than leaving the whole bundle unusable."""
    roots: list[x509.Certificate] = []
    for block in Path(bundle or certifi.where()).read_bytes().split(_PEM_BEGIN)[1:]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                roots.append(x509.load_pem_x509_certificate(_PEM_BEGIN + block))
            except ValueError:
                continue
    return roots


class PaypalCertificateTrust:
    """Path validation (RFC 5280 with the Web PKI profile, by `cryptography`) of a fetched
    chain: a self-signed or otherwise untrusted certificate never verifies a webhook."""

    def __init__(
        self, roots: Sequence[x509.Certificate], names: Sequence[str] = DEFAULT_CERT_NAMES
    ) -> None:
        self._store = Store(list(roots))
        self._names = [DNSName(n) for n in names]

    def signing_key(self, chain: Sequence[x509.Certificate], now: datetime) -> rsa.RSAPublicKey:
        """The leaf's RSA key, once the chain leads to a trusted root at `now` and the leaf
        is issued to one of PayPal's names."""
        if not chain:
            raise WebhookSignatureInvalid("the PayPal certificate chain is empty")
        leaf, intermediates = chain[0], list(chain[1:])
        policy = PolicyBuilder().store(self._store).time(now)
        for name in self._names:
            try:
                policy.build_server_verifier(name).verify(leaf, intermediates)
            except VerificationError:
                continue
            key = leaf.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise WebhookSignatureInvalid("the PayPal certificate has no RSA key")
            return key
        # Untrusted issuer, expired or not yet valid, or issued to another name: one answer.
        raise WebhookSignatureInvalid("the PayPal certificate is not trusted")
