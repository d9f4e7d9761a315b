"""Per-object access over every RPC of PaymentService, PaymentMethodService and FxService and
every REST route (OWASP API1, BOLA): user A's token on user B's objects, a service token, an admin
token, a token without the RPC's scope, and no token at all."""

from __future__ import annotations

import time

import grpc
import httpx
import pytest
from google.api import httpbody_pb2

from payments.v1 import dispute_service_pb2 as dpb
from payments.v1 import fx_service_pb2 as fpb
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import webhook_service_pb2 as wpb
from payments.v1.dispute_service_pb2_grpc import DisputeServiceStub
from payments.v1.fx_service_pb2_grpc import FxServiceStub
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments.v1.webhook_service_pb2_grpc import WebhookServiceStub
from server.app import PaymentApplication
from server.auth import REQUIRED_SCOPES
from tests.e2e.access_matrix import (
    ADMIN_ONLY,
    CARD,
    CREATING,
    FX_BASE,
    FX_QUOTE,
    FX_RATE,
    LISTING_BY_USER,
    NOT_OWNED,
    REQUESTS,
    REVIEWED_CURRENCY,
    USER_SCOPES,
    Answer,
    World,
    _create,
    admin_only_token,
    api_routes,
    contract_methods,
    grpc_call,
    new_id,
    phantom,
    rest_call,
    service_token,
    user_token,
)
from tests.support.channels import open_channel, rest_headers
from tests.support.webhook_signing import SESSION_STRIPE_SECRET, stripe_body, stripe_header

RPCS = sorted(REQUESTS)
# The RPCs that name a user's objects: what another user must find missing.
OWNED_RPCS = sorted(set(REQUESTS) - NOT_OWNED)
EVERY_PART = frozenset(
    {"method", "created", "authorized", "captured", "action", "review", "fx_rate", "disputed"}
)


def test_the_matrix_covers_every_rpc_and_every_route() -> None:
    assert set(REQUESTS) == set(contract_methods())
    assert {route.grpc_path for route in api_routes()} == set(REQUESTS)


async def build_world(channel: grpc.aio.Channel, user: str, parts: frozenset[str]) -> World:
    """The objects `parts` names, made for `user` by the session's admin token."""
    world = World(user)
    payments, methods = PaymentServiceStub(channel), PaymentMethodServiceStub(channel)
    if "method" in parts:
        added = await methods.AddPaymentMethod(
            mpb.AddPaymentMethodRequest(
                user_id=user, type=CARD, payment_method_token="pm_card_visa"
            )
        )
        world.method_id = added.payment_method.payment_method_id
    if "created" in parts:
        world.created_id = (await payments.CreatePayment(_create(world))).payment.payment_id
    if "authorized" in parts:
        created = await payments.CreatePayment(_create(world, authorize=True))
        world.authorized_id = created.payment.payment_id
    if "captured" in parts:
        created = await payments.CreatePayment(_create(world, authorize=True))
        world.captured_id = created.payment.payment_id
        await payments.CapturePayment(
            pb.CapturePaymentRequest(payment_id=world.captured_id, amount_minor=500)
        )
        refunded = await payments.RefundPayment(
            pb.RefundPaymentRequest(payment_id=world.captured_id, amount_minor=200)
        )
        world.refund_id = refunded.refund.refund_id
    if "action" in parts:
        created = await payments.CreatePayment(
            _create(world, authorize=True, payment_method_token="pm_card_authenticationRequired")
        )
        assert created.payment.status == payment_pb2.PAYMENT_STATUS_REQUIRES_ACTION
        world.action_id = created.payment.payment_id
    if "review" in parts:
        created = await payments.CreatePayment(
            _create(world, authorize=True, currency=REVIEWED_CURRENCY)
        )
        assert created.payment.status == payment_pb2.PAYMENT_STATUS_UNDER_REVIEW
        world.review_id = created.payment.payment_id
    if "disputed" in parts:
        created = await payments.CreatePayment(_create(world, authorize=True))
        world.disputed_id = created.payment.payment_id
        captured = await payments.CapturePayment(
            pb.CapturePaymentRequest(payment_id=world.disputed_id)
        )
        world.dispute_id = await open_dispute(channel, captured.payment)
    if "fx_rate" in parts:
        await FxServiceStub(channel).SetExchangeRate(
            fpb.SetExchangeRateRequest(base_currency=FX_BASE, quote_currency=FX_QUOTE, rate=FX_RATE)
        )
    return world


async def open_dispute(channel: grpc.aio.Channel, payment: payment_pb2.Payment) -> str:
    """A dispute on `payment`, as Stripe's signed webhook reports it; its id."""
    body = stripe_body(
        f"evt_{new_id()}",
        "charge.dispute.created",
        {
            "id": f"dp_{new_id()}", "object": "dispute", "amount": 300, "currency": "eur",
            "reason": "fraudulent", "status": "needs_response",
            "payment_intent": payment.gateway_payment_id,
        },
    )  # fmt: skip
    header = stripe_header(body, SESSION_STRIPE_SECRET, int(time.time()))
    await WebhookServiceStub(channel).HandleStripeWebhook(
        wpb.HandleStripeWebhookRequest(
            body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
        ),
        metadata=(("stripe-signature", header),),
    )
    listed = await DisputeServiceStub(channel).ListDisputes(
        dpb.ListDisputesRequest(filter=f'payment_id = "{payment.payment_id}"')
    )
    [dispute] = listed.disputes
    return dispute.dispute_id


async def snapshot(channel: grpc.aio.Channel, world: World) -> list[object]:
    """Everything about a world's objects, as an administrator sees it."""
    payments, methods = PaymentServiceStub(channel), PaymentMethodServiceStub(channel)
    seen: list[object] = []
    ids = (
        world.created_id,
        world.authorized_id,
        world.captured_id,
        world.action_id,
        world.review_id,
    )
    for payment_id in ids:
        seen.append(
            (await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))).payment
        )
    refunds = await payments.ListRefunds(pb.ListRefundsRequest(payment_id=world.captured_id))
    listed = await methods.ListPaymentMethods(mpb.ListPaymentMethodsRequest(user_id=world.user))
    return [*seen, list(refunds.refunds), list(listed.payment_methods)]


@pytest.fixture
async def victim(channel: grpc.aio.Channel) -> World:
    """User B, with one of everything (a fresh one per test: an RPC that wrongly succeeded
    must not hide what the next one does)."""
    return await build_world(channel, new_id(), EVERY_PART)


def refused_for_want_of_admin(answer: Answer) -> bool:
    return (answer.code, answer.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_SCOPE")


def expected_for_another_user(method: str, answer: Answer) -> None:
    if method in ADMIN_ONLY:
        assert refused_for_want_of_admin(answer), answer
    elif method in CREATING:
        assert (answer.code, answer.reason) == ("PERMISSION_DENIED", "ACTING_FOR_ANOTHER_USER")
    elif method in LISTING_BY_USER:
        assert answer.code == "OK" and not answer.body.get(LISTING_BY_USER[method][0])
    else:
        assert answer.code == "NOT_FOUND", answer
        assert answer.reason.endswith("_NOT_FOUND")


@pytest.mark.parametrize("method", OWNED_RPCS)
async def test_a_user_sees_another_users_objects_as_missing_over_grpc(
    channel: grpc.aio.Channel, victim: World, method: str
) -> None:
    attacker = user_token(new_id())
    _, build = REQUESTS[method]
    before = await snapshot(channel, victim)
    answer = await grpc_call(channel, method, build(victim), attacker, victim)
    missing = phantom()
    baseline = await grpc_call(channel, method, build(missing), attacker, missing)
    expected_for_another_user(method, answer)
    assert answer == baseline  # same status, reason, message and metadata: nothing learnt
    assert await snapshot(channel, victim) == before  # and nothing changed


@pytest.mark.parametrize("method", OWNED_RPCS)
async def test_a_user_sees_another_users_objects_as_missing_over_rest(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient, victim: World, method: str
) -> None:
    attacker = user_token(new_id())
    _, build = REQUESTS[method]
    before = await snapshot(channel, victim)
    answer = await rest_call(rest_client, method, build(victim), attacker, victim)
    missing = phantom()
    baseline = await rest_call(rest_client, method, build(missing), attacker, missing)
    expected_for_another_user(method, answer)
    assert answer == baseline
    assert await snapshot(channel, victim) == before


def _acting_tokens(owner: str) -> dict[str, str]:
    return {
        "owner": user_token(owner),
        "service": service_token(),
        "admin": admin_only_token(),
    }


@pytest.mark.parametrize("who", ["owner", "service", "admin"])
@pytest.mark.parametrize("method", RPCS)
async def test_owner_services_and_admins_act_on_every_rpc_over_grpc(
    channel: grpc.aio.Channel, method: str, who: str
) -> None:
    needs, build = REQUESTS[method]
    world = await build_world(channel, new_id(), needs)
    answer = await grpc_call(channel, method, build(world), _acting_tokens(world.user)[who], world)
    if method in ADMIN_ONLY and who != "admin":
        assert refused_for_want_of_admin(answer), answer
        return
    assert answer.code == "OK", answer
    if method in LISTING_BY_USER:
        items, id_field, owned = LISTING_BY_USER[method]
        assert [m[id_field] for m in answer.body[items]] == [getattr(world, owned)]


@pytest.mark.parametrize("who", ["owner", "service"])
@pytest.mark.parametrize("method", RPCS)
async def test_owner_and_services_act_on_every_route_over_rest(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient, method: str, who: str
) -> None:
    needs, build = REQUESTS[method]
    world = await build_world(channel, new_id(), needs)
    token = _acting_tokens(world.user)[who]
    answer = await rest_call(rest_client, method, build(world), token, world)
    if method in ADMIN_ONLY:
        assert refused_for_want_of_admin(answer), answer
        return
    assert answer.code == "OK", answer


@pytest.mark.parametrize("method", RPCS)
async def test_no_token_is_unauthenticated_on_every_rpc_and_route(
    method: str, app: PaymentApplication
) -> None:
    _, build = REQUESTS[method]
    world = phantom()
    async with open_channel(f"127.0.0.1:{app.grpc_port}", token=None) as bare_channel:
        answer = await grpc_call(bare_channel, method, build(world), None, world)
    assert (answer.code, answer.reason) == ("UNAUTHENTICATED", "TOKEN_MISSING")
    base_url = f"http://127.0.0.1:{app.rest_port}"
    async with httpx.AsyncClient(base_url=base_url, headers=rest_headers(token=None)) as bare:
        over_rest = await rest_call(bare, method, build(world), None, world)
    assert (over_rest.code, over_rest.reason) == ("UNAUTHENTICATED", "TOKEN_MISSING")
    assert over_rest.challenge == 'Bearer realm="payment-service"'


@pytest.mark.parametrize("method", RPCS)
async def test_a_token_without_the_rpcs_scope_is_denied(
    channel: grpc.aio.Channel, rest_client: httpx.AsyncClient, method: str
) -> None:
    needed = REQUIRED_SCOPES[method]
    others = tuple(scope for scope in USER_SCOPES if scope != needed)
    _, build = REQUESTS[method]
    world = phantom()
    token = service_token(others)
    answer = await grpc_call(channel, method, build(world), token, world)
    over_rest = await rest_call(rest_client, method, build(world), token, world)
    for got in (answer, over_rest):
        assert (got.code, got.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_SCOPE")
        assert got.metadata == (("required_scope", needed),)
    assert over_rest.challenge is not None and 'error="insufficient_scope"' in over_rest.challenge
