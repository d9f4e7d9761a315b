"""Who is calling, and may they: the bearer token of every gRPC call (and so of every REST
call, which the shim forwards over gRPC) is verified, the caller becomes `server.context.actor_var`,
and the RPC's required scope is checked. Per-object access (one user's payments) is the
domain's rule, applied where the data is read (domain/ownership.py).

Not authenticated here: health and reflection (for probes and tooling), and the gateways'
webhooks, which prove themselves by signature and run as a GATEWAY actor.

Service-to-service callers may instead present a client certificate (mutual TLS): a call
without a bearer token whose verified certificate's common name is listed in
MTLS_CLIENT_SCOPES acts as that SERVICE with the scopes listed for it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import grpc

from domain import access
from domain.access import TokenVerifier
from domain.actor import Actor, ActorKind
from domain.errors import InsufficientScope, TokenInvalid, TokenMissing
from server.context import actor_var, caller_var, request_id_var
from server.interceptors import Behavior, UnaryInterceptor, with_behavior

_PAYMENTS = "/payments.v1.PaymentService/"
_METHODS = "/payments.v1.PaymentMethodService/"
_FX = "/payments.v1.FxService/"
_ANALYTICS = "/payments.v1.AnalyticsService/"
_DISPUTES = "/payments.v1.DisputeService/"

# The scope each RPC requires; `admin` satisfies every one. An RPC missing from this table
# requires `admin`: a new RPC is closed until someone decides who may call it.
REQUIRED_SCOPES: Mapping[str, str] = {
    _PAYMENTS + "CreatePayment": access.PAYMENTS_WRITE,
    _PAYMENTS + "GetPayment": access.PAYMENTS_READ,
    _PAYMENTS + "AuthorizePayment": access.PAYMENTS_WRITE,
    _PAYMENTS + "ConfirmPayment": access.PAYMENTS_WRITE,
    _PAYMENTS + "CapturePayment": access.PAYMENTS_WRITE,
    _PAYMENTS + "CancelPayment": access.PAYMENTS_WRITE,
    _PAYMENTS + "GetPaymentStatus": access.PAYMENTS_READ,
    _PAYMENTS + "ListPayments": access.PAYMENTS_READ,
    _PAYMENTS + "RefundPayment": access.REFUNDS_WRITE,
    _PAYMENTS + "GetRefund": access.PAYMENTS_READ,
    _PAYMENTS + "ListRefunds": access.PAYMENTS_READ,
    _PAYMENTS + "ReviewPayment": access.ADMIN,  # fraud reviews are an administrator's call
    _METHODS + "ListPaymentMethods": access.PAYMENT_METHODS_READ,
    _METHODS + "AddPaymentMethod": access.PAYMENT_METHODS_WRITE,
    _METHODS + "DeletePaymentMethod": access.PAYMENT_METHODS_WRITE,
    _METHODS + "SetDefaultPaymentMethod": access.PAYMENT_METHODS_WRITE,
    _METHODS + "ListAvailablePaymentMethods": access.PAYMENT_METHODS_READ,
    _FX + "SetExchangeRate": access.ADMIN,  # rates the service converts at: administrators
    _FX + "GetExchangeRate": access.FX_READ,
    _FX + "ListExchangeRates": access.FX_READ,
    _FX + "CreateFxQuote": access.FX_WRITE,
    _ANALYTICS + "GetPaymentStats": access.ANALYTICS_READ,
    _ANALYTICS + "GetRevenue": access.ANALYTICS_READ,
    _ANALYTICS + "GetDisputeStats": access.ANALYTICS_READ,
    _DISPUTES + "ListDisputes": access.PAYMENTS_READ,
    _DISPUTES + "GetDispute": access.PAYMENTS_READ,
}

# Webhook RPCs: authenticated by the gateway's signature (checked by the servicer), run as
# that gateway.
GATEWAY_METHODS: Mapping[str, str] = {
    "/payments.v1.WebhookService/HandleStripeWebhook": "stripe",
    "/payments.v1.WebhookService/HandlePaypalWebhook": "paypal",
}

PUBLIC_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

# The REST shim proves it forwarded a request (so that the HTTP client's address, not the
# loopback, is the call's origin) with a secret made per process.
REST_SHIM_HEADER = "x-payments-rest-shim"
FORWARDED_FOR_HEADER = "x-forwarded-for"

ANONYMOUS_SUBJECT = "anonymous"


def required_scope(method: str) -> str:
    return REQUIRED_SCOPES.get(method, access.ADMIN)


def is_public(method: str) -> bool:
    return method.startswith(PUBLIC_SERVICES)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value (RFC 6750)."""
    if authorization is None:
        raise TokenMissing("this call needs a bearer token (authorization: Bearer <token>)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenInvalid('the authorization header must be "Bearer <token>"')
    return token


def require_scope(actor: Actor, scope: str) -> None:
    if scope not in actor.scopes and access.ADMIN not in actor.scopes:
        raise InsufficientScope(
            f"this call needs the {scope} scope", metadata={"required_scope": scope}
        )


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {
        item.key: str(item.value)
        for item in context.invocation_metadata() or ()
        if isinstance(item.value, str)
    }


class Authenticator:
    """Turns a call's metadata into its actor. `verifier` None: authentication is off
    (development only) and everyone is ANONYMOUS."""

    def __init__(
        self,
        verifier: TokenVerifier | None,
        rest_shim_secret: str,
        certificate_scopes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._verifier = verifier
        self._shim_secret = rest_shim_secret
        # Client certificate common name -> the scopes of that service (mutual TLS).
        self._certificate_scopes = certificate_scopes or {}

    def origin(self, metadata: Mapping[str, str], peer: str) -> str:
        shim = metadata.get(REST_SHIM_HEADER, "")
        forwarded = metadata.get(FORWARDED_FOR_HEADER)
        if forwarded and hmac.compare_digest(shim.encode(), self._shim_secret.encode()):
            return f"rest:{forwarded}"
        return peer

    async def actor(self, method: str, context: grpc.aio.ServicerContext) -> Actor:
        metadata = _metadata(context)
        request_id = request_id_var.get()
        origin = self.origin(metadata, context.peer() or "-")
        gateway = GATEWAY_METHODS.get(method)
        if gateway is not None:
            return Actor(ActorKind.GATEWAY, gateway, frozenset(), request_id, origin)
        service = self._certified_service(context)
        if service is not None and "authorization" not in metadata:
            name, scopes = service
            actor = Actor(ActorKind.SERVICE, name, scopes, request_id, origin)
            require_scope(actor, required_scope(method))
            return actor
        return await self.authenticate(
            metadata.get("authorization"), required_scope(method), request_id, origin
        )

    def _certified_service(
        self, context: grpc.aio.ServicerContext
    ) -> tuple[str, frozenset[str]] | None:
        """The listed service whose certificate the TLS handshake verified, if any (gRPC puts
        a peer certificate's subject in the auth context only once it chains to
        TLS_CLIENT_CA_FILE)."""
        if not self._certificate_scopes:
            return None
        names = context.auth_context().get("x509_common_name") or ()
        for raw in names:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if name in self._certificate_scopes:
                return name, self._certificate_scopes[name]
        return None

    async def authenticate(
        self, authorization: str | None, scope: str, request_id: str = "-", origin: str = "-"
    ) -> Actor:
        """The actor behind an Authorization header value, if it holds `scope`."""
        if self._verifier is None:
            return Actor(ActorKind.ANONYMOUS, ANONYMOUS_SUBJECT, frozenset(), request_id, origin)
        verified = await self._verifier.verify(bearer_token(authorization))
        require_scope(verified, scope)
        return Actor(verified.kind, verified.subject, verified.scopes, request_id, origin)


class AuthInterceptor(UnaryInterceptor):
    """Runs inside RequestInterceptor (which maps the domain errors raised here to
    UNAUTHENTICATED / PERMISSION_DENIED with their reason) and before idempotency (whose
    keys are scoped by the caller set here)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def handler_for(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if is_public(method):
            return handler
        if handler.unary_unary is None:
            return _refused(handler)  # the contract has no streaming RPC outside the above
        return with_behavior(handler, self.wrap(method, handler.unary_unary))

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        authenticator = self._authenticator

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            actor = await authenticator.actor(method, context)
            actor_token = actor_var.set(actor)
            caller_token = caller_var.set(actor.subject)
            try:
                return await behavior(request, context)
            finally:
                caller_var.reset(caller_token)
                actor_var.reset(actor_token)

        return wrapped


def _refused(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A streaming RPC nobody has authorized: refused, whatever its shape."""

    async def refuse(_: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "streaming calls are not served")

    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse, **options)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, **options)
    return grpc.stream_stream_rpc_method_handler(refuse, **options)
