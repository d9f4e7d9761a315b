"""payments.v1.WebhookService: gateways' raw bodies, verified, then applied once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import grpc

from domain.usecases.deps import Deps
from domain.usecases.webhooks import apply_gateway_event
from infra.currency import CldrCurrencyCatalog
from infra.webhooks.paypal_events import paypal_event
from infra.webhooks.paypal_signature import PaypalSignatureHeaders, PaypalVerifier
from infra.webhooks.stripe_events import stripe_event
from infra.webhooks.stripe_signature import StripeSignatureVerifier
from payments.v1 import webhook_service_pb2 as pb
from payments.v1 import webhook_service_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


def _metadata(context: Context) -> dict[str, str]:
    return {
        key.lower(): value
        for key, value in (context.invocation_metadata() or ())
        if isinstance(value, str)
    }


class WebhookServicer(webhook_service_pb2_grpc.WebhookServiceServicer):
    def __init__(
        self,
        deps: Callable[[], Deps],
        stripe: StripeSignatureVerifier,
        paypal: PaypalVerifier,
    ) -> None:
        self._deps = deps
        self._stripe = stripe
        self._paypal = paypal
        self._currencies = CldrCurrencyCatalog()

    async def HandleStripeWebhook(
        self, request: pb.HandleStripeWebhookRequest, context: Context
    ) -> pb.HandleStripeWebhookResponse:
        body = request.body.data
        # Verify before parsing: nothing of an unsigned body is read, stored or logged.
        self._stripe.verify(body, _metadata(context).get("stripe-signature"))
        result = await apply_gateway_event(stripe_event(body), self._deps())
        return pb.HandleStripeWebhookResponse(event_id=result.event_id, processed=result.processed)

    async def HandlePaypalWebhook(
        self, request: pb.HandlePaypalWebhookRequest, context: Context
    ) -> pb.HandlePaypalWebhookResponse:
        body = request.body.data
        await self._paypal.verify(body, PaypalSignatureHeaders.from_metadata(_metadata(context)))
        result = await apply_gateway_event(paypal_event(body, self._currencies), self._deps())
        return pb.HandlePaypalWebhookResponse(event_id=result.event_id, processed=result.processed)
