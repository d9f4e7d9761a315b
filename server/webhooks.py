"""Builds the webhook servicer's verifiers from the settings (composition root helper)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from domain.usecases.deps import Deps
from infra.gateways.paypal_client import PayPalClient, base_url_for
from infra.webhooks.paypal_signature import (
    PaypalApiVerifier,
    PaypalCertificateStore,
    PaypalLocalVerifier,
    PaypalVerifier,
)
from infra.webhooks.stripe_signature import StripeSignatureVerifier
from server.config import Settings
from server.servicers.webhooks import WebhookServicer

CERT_FETCH_TIMEOUT = httpx.Timeout(10.0)


class WebhookComponents:
    """The servicer and the HTTP clients it owns (closed at shutdown)."""

    def __init__(self, settings: Settings, deps: Callable[[], Deps]) -> None:
        self.http = httpx.AsyncClient(timeout=CERT_FETCH_TIMEOUT)
        self._paypal_client: PayPalClient | None = None
        stripe = StripeSignatureVerifier(
            settings.stripe_webhook_secrets(),
            tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        )
        self.servicer = WebhookServicer(deps, stripe, self._paypal_verifier(settings))

    def _paypal_verifier(self, settings: Settings) -> PaypalVerifier:
        webhook_id = settings.paypal_webhook_id or ""
        secret = settings.paypal_secret()
        if settings.paypal_webhook_verification == "api" and settings.paypal_client_id and secret:
            self._paypal_client = PayPalClient(
                settings.paypal_client_id,
                secret.get_secret_value(),
                base_url=base_url_for(settings.paypal_mode, settings.paypal_api_base),
                http=self.http,
            )
            return PaypalApiVerifier(webhook_id, self._paypal_client)
        store = PaypalCertificateStore(self.http, settings.paypal_cert_host_list())
        return PaypalLocalVerifier(webhook_id, store)

    async def aclose(self) -> None:
        await self.http.aclose()
