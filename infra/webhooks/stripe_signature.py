"""Stripe's webhook signature scheme (docs.stripe.com/webhooks#verify-manually).

`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]`; each v1 is HMAC-SHA256 of
`<t>.<raw body>` under an endpoint secret. During a secret rotation Stripe sends one v1 per
live secret, and we may hold several secrets ourselves: any match of any pair is valid.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence

from domain.errors import WebhookSignatureInvalid

DEFAULT_TOLERANCE_SECONDS = 300


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookSignatureInvalid("the Stripe-Signature timestamp is invalid") from None
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureInvalid("the Stripe-Signature header has no timestamp or no v1")
    return timestamp, signatures


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class StripeSignatureVerifier:
    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = [s for s in secrets if s]
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, body: bytes, header: str | None) -> None:
        """Raises WebhookSignatureInvalid unless some v1 matches some secret, in time."""
        if not self._secrets:
            raise WebhookSignatureInvalid("no Stripe webhook secret is configured")
        if not header:
            raise WebhookSignatureInvalid("the Stripe-Signature header is missing")
        timestamp, signatures = _parse(header)
        if abs(self._clock() - timestamp) > self._tolerance:
            raise WebhookSignatureInvalid("the Stripe-Signature timestamp is outside tolerance")
        matched = False
        for secret in self._secrets:
            expected = expected_signature(secret, timestamp, body)
            for candidate in signatures:
                # Constant time, and no early exit that would tell which pair matched.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookSignatureInvalid("no Stripe-Signature v1 matches")
