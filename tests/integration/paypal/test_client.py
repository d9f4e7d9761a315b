"""OAuth2 client credentials against the fake PayPal: one token for many calls, a new one
shortly before it expires or when PayPal rejects it, and secrets that never leak."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from domain.enums import PaymentMethodType
from domain.errors import GatewayUnavailable
from domain.gateway import AuthorizationRequest, ConfirmRequest, GatewayOperationRequest
from domain.money import Money
from infra.gateways.paypal import ONE_TIME_CHECKOUT, PayPalGateway
from infra.gateways.paypal_client import PayPalClient, base_url_for
from tests.fakes.paypal_server import FakePayPal, running_fake_paypal

SECRET = "s3cr3t-do-not-log-" + uuid.uuid4().hex


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def paypal() -> AsyncIterator[FakePayPal]:
    async with running_fake_paypal(client_secret=SECRET, token_lifetime=3600) as fake:
        yield fake


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def gateway(paypal: FakePayPal, clock: ManualClock) -> AsyncIterator[PayPalGateway]:
    client = PayPalClient(
        paypal.client_id,
        SECRET,
        base_url=paypal.url,
        timeout=httpx.Timeout(5.0),
        refresh_margin=300,
        clock=clock,
    )
    gateway = PayPalGateway(client)
    yield gateway
    await gateway.aclose()


def authorization() -> AuthorizationRequest:
    return AuthorizationRequest(
        idempotency_key=f"payments-{uuid.uuid4().hex}",
        payment_id="pay_1",
        amount=Money(1000, "EUR"),
        payment_method_type=PaymentMethodType.PAYPAL,
        payment_method_token=ONE_TIME_CHECKOUT,
    )


def api_tokens(paypal: FakePayPal) -> list[str]:
    """The bearer token of each API call, in order."""
    return [
        r.headers["authorization"].removeprefix("Bearer ")
        for r in paypal.requests
        if r.path.startswith("/v2/")
    ]


async def test_one_token_serves_many_calls(gateway: PayPalGateway, paypal: FakePayPal) -> None:
    for _ in range(3):
        await gateway.authorize(authorization())

    assert paypal.token_requests == 1
    assert set(api_tokens(paypal)) == {paypal.issued_tokens[0]}
    [token_request] = [r for r in paypal.requests if r.path == "/v1/oauth2/token"]
    assert token_request.body == {"grant_type": "client_credentials"}
    assert token_request.headers["authorization"].startswith("Basic ")


async def test_concurrent_first_calls_share_one_token_request(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    await asyncio.gather(*(gateway.authorize(authorization()) for _ in range(5)))

    assert paypal.token_requests == 1
    assert len(paypal.orders) == 5


async def test_a_rejected_token_is_replaced_and_the_call_repeated_under_its_key(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    await gateway.authorize(authorization())
    paypal.expire_tokens()
    request = authorization()

    outcome = await gateway.authorize(request)

    assert outcome.reference in paypal.orders
    assert paypal.token_requests == 2
    retried = paypal.posts("/v2/checkout/orders")[-2:]
    assert [r.headers["paypal-request-id"] for r in retried] == [request.idempotency_key] * 2
    assert len(paypal.orders) == 2  # the rejected attempt created nothing


async def test_the_token_is_renewed_shortly_before_it_expires(
    gateway: PayPalGateway, paypal: FakePayPal, clock: ManualClock
) -> None:
    await gateway.authorize(authorization())
    clock.now += 3600 - 300 - 1  # just inside the refresh margin... not yet
    await gateway.authorize(authorization())
    assert paypal.token_requests == 1

    clock.now += 2  # within the last 300 s of the token's life
    await gateway.authorize(authorization())

    assert paypal.token_requests == 2
    first, second = paypal.issued_tokens
    assert api_tokens(paypal) == [first, first, second]  # no call was rejected first


async def test_rejected_again_after_a_refresh_is_unavailable(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    paypal.reject_bearer_tokens = True

    with pytest.raises(GatewayUnavailable) as caught:
        await gateway.authorize(authorization())

    assert paypal.token_requests == 2
    assert paypal.orders == {}
    assert "rejected" in caught.value.message


async def test_wrong_credentials_are_unavailable_and_never_echoed(paypal: FakePayPal) -> None:
    wrong = "wrong-" + SECRET
    client = PayPalClient(paypal.client_id, wrong, base_url=paypal.url)
    gateway = PayPalGateway(client)
    try:
        with pytest.raises(GatewayUnavailable) as caught:
            await gateway.authorize(authorization())
    finally:
        await gateway.aclose()

    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert paypal.orders == {}


async def test_secrets_and_tokens_never_reach_logs_or_answers(
    gateway: PayPalGateway, paypal: FakePayPal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    amount = Money(1000, "EUR")
    created = await gateway.authorize(authorization())
    order_id = created.reference or ""
    paypal.approve(order_id)
    paypal.expire_tokens()
    confirmed = await gateway.confirm(ConfirmRequest("payments-confirm-1", order_id, amount))
    captured = await gateway.capture(GatewayOperationRequest("payments-cap-1", order_id, amount))
    paypal.reject_bearer_tokens = True
    with pytest.raises(GatewayUnavailable) as caught:
        await gateway.void(GatewayOperationRequest("payments-void-1", order_id, amount))

    secrets = [SECRET, *paypal.issued_tokens]
    assert len(secrets) >= 3
    seen = "\n".join(
        [caplog.text, repr(gateway), repr(gateway._client), repr(caught.value)]
        + [repr(outcome) for outcome in (created, confirmed, captured)]
    )
    assert not [secret for secret in secrets if secret in seen]


def test_the_mode_chooses_the_host_and_an_override_wins() -> None:
    assert base_url_for("sandbox") == "https://api-m.sandbox.paypal.com"
    assert base_url_for("live") == "https://api-m.paypal.com"
    assert base_url_for("live", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="sandbox or live"):
        base_url_for("production")


async def test_built_from_settings_with_a_base_url_override(paypal: FakePayPal) -> None:
    gateway = PayPalGateway.create(
        paypal.client_id, SECRET, mode="live", base_url=paypal.url, timeout=2.0
    )
    try:
        outcome = await gateway.authorize(authorization())
    finally:
        await gateway.aclose()

    assert outcome.reference in paypal.orders
    assert "PayPalClient(base_url=" in repr(gateway._client) and SECRET not in repr(gateway._client)
