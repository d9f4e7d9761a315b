"""Builds the webhook servicer's verifiers from the settings (composition root helper)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from domain.actor import Actor
from domain.usecases.deps import Deps
from infra.currency import iso4217_catalog
from infra.gateways.paypal_client import PayPalClient, base_url_for
from infra.webhooks.paypal_certificates import (
    PaypalCertificateStore,
    PaypalCertificateTrust,
    load_trust_roots,
)
from infra.webhooks.paypal_events import paypal_event
from infra.webhooks.paypal_signature import (
    PaypalApiVerifier,
    PaypalLocalVerifier,
    PaypalSignatureHeaders,
    PaypalVerifier,
)
from infra.webhooks.stripe_events import stripe_event
from infra.webhooks.stripe_signature import StripeSignatureVerifier
from server.config import Settings
from server.servicers.webhooks import WebhookServicer

CERT_FETCH_TIMEOUT = httpx.Timeout(10.0)


class WebhookComponents:
    """The servicer and the HTTP clients it owns (closed at shutdown)."""

    def __init__(self, settings: Settings, deps: Callable[[Actor], Deps]) -> None:
        self.http = httpx.AsyncClient(timeout=CERT_FETCH_TIMEOUT)
        self._paypal_client: PayPalClient | None = None
        stripe = StripeSignatureVerifier(
            settings.stripe_webhook_secrets(),
            tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        )
        currencies = iso4217_catalog()
        paypal = self._paypal_verifier(settings)

        async def stripe_signed(body: bytes, metadata: Mapping[str, str]) -> None:
            stripe.verify(body, metadata.get("stripe-signature"))

        async def paypal_signed(body: bytes, metadata: Mapping[str, str]) -> None:
            await paypal.verify(body, PaypalSignatureHeaders.from_metadata(metadata))

        self.servicer = WebhookServicer(
            deps,
            (stripe_signed, stripe_event),
            (paypal_signed, lambda body: paypal_event(body, currencies)),
        )

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
        trust = PaypalCertificateTrust(
            load_trust_roots(settings.paypal_cert_ca_bundle), settings.paypal_cert_name_list()
        )
        return PaypalLocalVerifier(webhook_id, store, trust)

    async def aclose(self) -> None:
        await self.http.aclose()
