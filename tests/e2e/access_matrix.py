"""What the access-control tests call: one request builder per RPC of PaymentService,
PaymentMethodService, FxService and AnalyticsService (checked against the service
descriptors, so that a new RPC fails the tests until it is added here), the objects a user
owns, and the same calls over REST."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from payments.v1 import analytics_service_pb2 as apb
from payments.v1 import dispute_service_pb2 as dpb
from payments.v1 import fx_service_pb2 as fpb
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsError
from server.auth import GATEWAY_METHODS
from server.rest.routes import Route, build_routes, contract_services
from tests.support.auth import issuer

CARD = "PAYMENT_METHOD_TYPE_CREDIT_CARD"
USER_SCOPES = (
    "payments:read",
    "payments:write",
    "refunds:write",
    "payment_methods:read",
    "payment_methods:write",
    "fx:read",
    "fx:write",
)


def new_id() -> str:
    return str(uuid.uuid4())


def user_token(user: str) -> str:
    return issuer().mint(user, USER_SCOPES, kind="user")


def service_token(scopes: tuple[str, ...] = USER_SCOPES) -> str:
    return issuer().mint("orders-service", scopes, kind="service")


def admin_only_token() -> str:
    return issuer().mint("operator", ["admin"], kind="service")


@dataclass
class World:
    """One user's objects, each in the state its RPCs need."""

    user: str
    method_id: str = field(default_factory=new_id)  # saved card, the user's default
    created_id: str = field(default_factory=new_id)  # PENDING: can be authorized
    authorized_id: str = field(default_factory=new_id)  # AUTHORIZED: capture or cancel
    captured_id: str = field(default_factory=new_id)  # CAPTURED, partly refunded
    refund_id: str = field(default_factory=new_id)
    action_id: str = field(default_factory=new_id)  # REQUIRES_ACTION: can be confirmed
    review_id: str = field(default_factory=new_id)  # UNDER_REVIEW: an admin may decide it
    disputed_id: str = field(default_factory=new_id)  # CAPTURED, then disputed at Stripe
    dispute_id: str = field(default_factory=new_id)

    def ids(self) -> dict[str, str]:
        """The world's ids -> a neutral placeholder, to compare answers across worlds."""
        names = [f.name for f in dataclasses.fields(self)]
        return {getattr(self, name): f"<{name}>" for name in names}


def phantom() -> World:
    """Ids of nothing at all: what a missing object looks like."""
    return World(new_id())


def _create(world: World, **changes: Any) -> pb.CreatePaymentRequest:
    fields: dict[str, Any] = {
        "request_id": new_id(),
        "order_id": new_id(),
        "user_id": world.user,
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": CARD,
        "payment_method_token": "pm_card_visa",
    }
    return pb.CreatePaymentRequest(**(fields | changes))


Builder = Callable[[World], Message]
_P, _M = "/payments.v1.PaymentService/", "/payments.v1.PaymentMethodService/"
_F = "/payments.v1.FxService/"
_A = "/payments.v1.AnalyticsService/"
_D = "/payments.v1.DisputeService/"
# The pair the world's "fx_rate" part sets (as an administrator).
FX_BASE, FX_QUOTE, FX_RATE = "EUR", "GBP", "0.84365"

# RPC -> (the world's parts it needs, its request against that world).
REQUESTS: dict[str, tuple[frozenset[str], Builder]] = {
    _P + "CreatePayment": (frozenset(), _create),
    _P + "GetPayment": (
        frozenset({"authorized"}),
        lambda w: pb.GetPaymentRequest(payment_id=w.authorized_id),
    ),
    _P + "AuthorizePayment": (
        frozenset({"created"}),
        lambda w: pb.AuthorizePaymentRequest(payment_id=w.created_id, request_id=new_id()),
    ),
    _P + "ConfirmPayment": (
        frozenset({"action"}),
        lambda w: pb.ConfirmPaymentRequest(payment_id=w.action_id, request_id=new_id()),
    ),
    _P + "CapturePayment": (
        frozenset({"authorized"}),
        lambda w: pb.CapturePaymentRequest(payment_id=w.authorized_id, request_id=new_id()),
    ),
    _P + "CancelPayment": (
        frozenset({"authorized"}),
        lambda w: pb.CancelPaymentRequest(payment_id=w.authorized_id, request_id=new_id()),
    ),
    _P + "GetPaymentStatus": (
        frozenset({"authorized"}),
        lambda w: pb.GetPaymentStatusRequest(payment_id=w.authorized_id),
    ),
    _P + "RefundPayment": (
        frozenset({"captured"}),
        lambda w: pb.RefundPaymentRequest(
            payment_id=w.captured_id, amount_minor=100, request_id=new_id()
        ),
    ),
    _P + "GetRefund": (
        frozenset({"captured"}),
        lambda w: pb.GetRefundRequest(refund_id=w.refund_id),
    ),
    _P + "ListRefunds": (
        frozenset({"captured"}),
        lambda w: pb.ListRefundsRequest(payment_id=w.captured_id),
    ),
    _P + "ListPayments": (
        frozenset({"created"}),
        lambda w: pb.ListPaymentsRequest(filter=f'user_id = "{w.user}"'),
    ),
    _M + "ListPaymentMethods": (
        frozenset({"method"}),
        lambda w: mpb.ListPaymentMethodsRequest(user_id=w.user),
    ),
    _M + "AddPaymentMethod": (
        frozenset(),
        lambda w: mpb.AddPaymentMethodRequest(
            user_id=w.user, type=CARD, payment_method_token="pm_card_mastercard"
        ),
    ),
    _M + "DeletePaymentMethod": (
        frozenset({"method"}),
        lambda w: mpb.DeletePaymentMethodRequest(payment_method_id=w.method_id),
    ),
    _M + "SetDefaultPaymentMethod": (
        frozenset({"method"}),
        lambda w: mpb.SetDefaultPaymentMethodRequest(
            payment_method_id=w.method_id, request_id=new_id()
        ),
    ),
    _M + "ListAvailablePaymentMethods": (
        frozenset(),
        lambda w: mpb.ListAvailablePaymentMethodsRequest(
            country="DE", currency="EUR", amount_minor=1099
        ),
    ),
}
REQUESTS |= {
    _F + "SetExchangeRate": (
        frozenset(),
        lambda w: fpb.SetExchangeRateRequest(
            request_id=new_id(), base_currency=FX_BASE, quote_currency=FX_QUOTE, rate=FX_RATE
        ),
    ),
    _F + "GetExchangeRate": (
        frozenset({"fx_rate"}),
        lambda w: fpb.GetExchangeRateRequest(base_currency=FX_BASE, quote_currency=FX_QUOTE),
    ),
    _F + "ListExchangeRates": (frozenset(), lambda w: fpb.ListExchangeRatesRequest()),
    _F + "CreateFxQuote": (
        frozenset({"fx_rate"}),
        lambda w: fpb.CreateFxQuoteRequest(
            request_id=new_id(),
            source_currency=FX_BASE,
            target_currency=FX_QUOTE,
            source_amount_minor=10_000,
        ),
    ),
}
# A day of analytics (any period: the figures are nobody's objects).
_DAY = {
    "start_time": Timestamp(seconds=1_796_601_600),
    "end_time": Timestamp(seconds=1_796_688_000),
}
REQUESTS |= {
    _A + "GetPaymentStats": (
        frozenset(),
        lambda w: apb.GetPaymentStatsRequest(**_DAY, granularity=apb.ANALYTICS_GRANULARITY_HOUR),
    ),
    _A + "GetRevenue": (
        frozenset(),
        lambda w: apb.GetRevenueRequest(**_DAY, granularity=apb.ANALYTICS_GRANULARITY_DAY),
    ),
    _A + "GetDisputeStats": (frozenset(), lambda w: apb.GetDisputeStatsRequest(**_DAY)),
}
REQUESTS |= {
    _D + "GetDispute": (
        frozenset({"disputed"}),
        lambda w: dpb.GetDisputeRequest(dispute_id=w.dispute_id),
    ),
    _D + "ListDisputes": (
        frozenset({"disputed"}),
        lambda w: dpb.ListDisputesRequest(filter=f'payment_id = "{w.disputed_id}"'),
    ),
}
REQUESTS[_P + "ReviewPayment"] = (
    frozenset({"review"}),
    lambda w: pb.ReviewPaymentRequest(
        payment_id=w.review_id,
        request_id=new_id(),
        decision=payment_pb2.REVIEW_DECISION_APPROVE,
        reason="checked with the customer",
    ),
)
# The session server holds every CHF payment for review (tests/conftest.py): a payment in
# that currency is UNDER_REVIEW.
REVIEWED_CURRENCY = "CHF"
# Only administrators call these: every other token is refused for want of the scope,
# whoever owns the object.
# The analytics need `analytics:read`, which no user or service token here carries.
ANALYTICS = {_A + "GetPaymentStats", _A + "GetRevenue", _A + "GetDisputeStats"}
ADMIN_ONLY = {_P + "ReviewPayment", _F + "SetExchangeRate", *ANALYTICS}
# Reference data, the same for every caller: no user's object is named (a quote belongs to
# its requester, ownership.py, but is not named by these requests).
NOT_OWNED = {
    _F + "GetExchangeRate",
    _F + "ListExchangeRates",
    _F + "CreateFxQuote",
    *ANALYTICS,  # figures across every user's payments, no one's object
    # What the deployment can take: configuration, the same for every caller.
    _M + "ListAvailablePaymentMethods",
}
# Creating for another user is refused outright; for the rest, another user's id is NOT_FOUND.
CREATING = {_P + "CreatePayment", _M + "AddPaymentMethod"}
# Lists of a user's objects: another user gets an empty list. The answer's list, the id field
# of its items and the World attribute of the one object the owner must see.
LISTING_BY_USER = {
    _M + "ListPaymentMethods": ("paymentMethods", "paymentMethodId", "method_id"),
    _P + "ListPayments": ("payments", "paymentId", "created_id"),
    _D + "ListDisputes": ("disputes", "disputeId", "dispute_id"),
}


def contract_methods() -> dict[str, MethodDescriptor]:
    """Every RPC of the API (webhooks apart: gateways sign them, no token)."""
    return {
        f"/{service.full_name}/{method.name}": method
        for service in contract_services()
        for method in service.methods
        if f"/{service.full_name}/{method.name}" not in GATEWAY_METHODS
    }


def api_routes() -> list[Route]:
    return [r for r in build_routes(contract_services()) if r.grpc_path not in GATEWAY_METHODS]


# --- calling ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """An answer with the ids of the world it was asked about replaced by placeholders."""

    code: str  # OK, NOT_FOUND, ...
    reason: str = ""
    message: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    body: Any = None
    challenge: str | None = None  # REST: the WWW-Authenticate header


def _neutral(value: str, ids: dict[str, str]) -> str:
    for real, placeholder in ids.items():
        value = value.replace(real, placeholder)
    return value


async def grpc_call(
    channel: grpc.aio.Channel, method: str, request: Message, token: str | None, world: World
) -> Answer:
    descriptor = contract_methods()[method]
    response_class = message_factory.GetMessageClass(descriptor.output_type)
    call = channel.unary_unary(
        method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    ids = world.ids()
    try:
        response = await call(request, metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as error:
        decoded = PaymentsError.from_rpc_error(error)
        return Answer(
            decoded.code.name,
            decoded.reason,
            _neutral(decoded.message, ids),
            tuple(sorted((k, _neutral(v, ids)) for k, v in decoded.metadata.items())),
        )
    return Answer("OK", body=json_format.MessageToDict(response))


def route_of(method: str) -> Route:
    return next(r for r in api_routes() if r.grpc_path == method)


async def rest_call(
    client: httpx.AsyncClient, method: str, request: Message, token: str | None, world: World
) -> Answer:
    route = route_of(method)
    data = json_format.MessageToDict(request, preserving_proto_field_name=True)
    path = route.path
    for name in route.path_params:
        path = path.replace("{" + name + "}", str(data.pop(name)))
    body = data if route.body == "*" else None
    params = None if route.body == "*" else data
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.request(
        route.http_method, path, json=body, params=params, headers=headers
    )
    if response.status_code == 200:
        return Answer("OK", body=response.json())
    error = response.json()["error"]
    info: dict[str, Any] = next(
        (d for d in error["details"] if d["@type"].endswith("ErrorInfo")), {}
    )
    ids = world.ids()
    return Answer(
        error["status"],
        info.get("reason", ""),
        _neutral(error["message"], ids),
        tuple(sorted((k, _neutral(v, ids)) for k, v in info.get("metadata", {}).items())),
        challenge=response.headers.get("www-authenticate"),
    )
