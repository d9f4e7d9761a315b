"""payments.v1.WebhookService: gateways' raw bodies, verified, then applied once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias

import grpc

from domain.actor import Actor, ActorKind
from domain.enums import GatewayName
from domain.usecases.deps import Deps
from domain.usecases.webhooks import apply_gateway_event
from domain.webhooks import GatewayEvent
from payments.v1 import webhook_service_pb2 as pb
from payments.v1 import webhook_service_pb2_grpc
from server.context import actor_var

Context: TypeAlias = grpc.aio.ServicerContext
# A gateway's JSON body -> the event it reports (infra/webhooks/*_events.py).
EventParser: TypeAlias = Callable[[bytes], GatewayEvent]
# Raises the domain's WebhookSignatureInvalid unless the body is signed by the gateway; gets
# the call's metadata (lower-case header names).
SignatureCheck: TypeAlias = Callable[[bytes, Mapping[str, str]], Awaitable[None]]


def _metadata(context: Context) -> dict[str, str]:
    return {
        key.lower(): value
        for key, value in (context.invocation_metadata() or ())
        if isinstance(value, str)
    }


def _gateway_actor(gateway: GatewayName) -> Actor:
    """A verified webhook acts as its gateway; request id and peer stay those of the call."""
    call = actor_var.get()
    return Actor(
        ActorKind.GATEWAY, gateway.value.lower(), request_id=call.request_id, origin=call.origin
    )


class WebhookServicer(webhook_service_pb2_grpc.WebhookServiceServicer):
    def __init__(
        self,
        deps: Callable[[Actor], Deps],
        stripe: tuple[SignatureCheck, EventParser],
        paypal: tuple[SignatureCheck, EventParser],
    ) -> None:
        self._deps = deps
        self._stripe_signed, self._stripe_event = stripe
        self._paypal_signed, self._paypal_event = paypal

    async def HandleStripeWebhook(
        self, request: pb.HandleStripeWebhookRequest, context: Context
    ) -> pb.HandleStripeWebhookResponse:
        body = request.body.data
        # Verify before parsing: nothing of an unsigned body is read, stored or logged.
        await self._stripe_signed(body, _metadata(context))
        deps = self._deps(_gateway_actor(GatewayName.STRIPE))
        result = await apply_gateway_event(self._stripe_event(body), deps)
        return pb.HandleStripeWebhookResponse(event_id=result.event_id, processed=result.processed)

    async def HandlePaypalWebhook(
        self, request: pb.HandlePaypalWebhookRequest, context: Context
    ) -> pb.HandlePaypalWebhookResponse:
        body = request.body.data
        await self._paypal_signed(body, _metadata(context))
        deps = self._deps(_gateway_actor(GatewayName.PAYPAL))
        result = await apply_gateway_event(self._paypal_event(body), deps)
        return pb.HandlePaypalWebhookResponse(event_id=result.event_id, processed=result.processed)
