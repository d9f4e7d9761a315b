"""Stripe's webhook signature check, done by the official SDK (`stripe.WebhookSignature`).

`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]`. During a secret rotation Stripe sends
one v1 per live secret, and we may hold several secrets ourselves: the header is valid when
the SDK accepts it under any of our secrets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import stripe

from domain.errors import WebhookSignatureInvalid

DEFAULT_TOLERANCE_SECONDS = 300


def _timestamp(header: str) -> int:
    """The `t` of a header the SDK already accepted (so it is present and an integer)."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise WebhookSignatureInvalid("the Stripe-Signature header has no timestamp")


class StripeSignatureVerifier:
    def __init__(
        self, secrets: Sequence[str], *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    ) -> None:
        self._secrets = [s for s in secrets if s]
        self._tolerance = tolerance_seconds

    def verify(self, body: bytes, header: str | None) -> None:
        """Raises WebhookSignatureInvalid unless some v1 matches some secret, in time."""
        if not self._secrets:
            raise WebhookSignatureInvalid("no Stripe webhook secret is configured")
        if not header:
            raise WebhookSignatureInvalid("the Stripe-Signature header is missing")
        matched = False
        # Every secret is tried, so how long this takes does not tell which one matched.
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(body, header, secret, self._tolerance)
            except stripe.SignatureVerificationError:
                continue
            matched = True
        if not matched:
            # The SDK's message would quote the header; ours says only that it failed.
            raise WebhookSignatureInvalid("the Stripe-Signature does not match or is stale")
        # The SDK rejects only old timestamps; one from the future beyond the same tolerance
        # is a clock we should not trust either (it would extend the replay window).
        if _timestamp(header) - time.time() > self._tolerance:
            raise WebhookSignatureInvalid("the Stripe-Signature timestamp is in the future")
