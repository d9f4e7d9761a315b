"""Authentication of the running server over gRPC and REST: bad tokens of every kind are
UNAUTHENTICATED / 401 with their reason and a WWW-Authenticate challenge, what stays public
(health, reflection, OpenAPI, webhooks), /metrics, reflection switched off, authentication
switched off in development, and idempotency keys scoped by the caller."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.access_matrix import new_id, user_token
from tests.e2e.helpers import create_request, rpc_error
from tests.support.auth import (
    forged_token,
    hs256_token,
    issuer,
    unsigned_token,
)
from tests.support.channels import open_channel, rest_headers
from tests.support.servers import settings_for_tests

# What the caller sends as `authorization`, and the ErrorInfo reason it must get.
BAD_CREDENTIALS: dict[str, tuple[Callable[[], str | None], str]] = {
    "missing": (lambda: None, "TOKEN_MISSING"),
    "not bearer": (lambda: "Basic dXNlcjpwYXNzd29yZA==", "TOKEN_INVALID"),
    "empty bearer": (lambda: "Bearer", "TOKEN_INVALID"),
    "garbage": (lambda: "Bearer not.a.token", "TOKEN_INVALID"),
    "expired": (
        lambda: f"Bearer {issuer().mint(exp=int(time.time()) - 3600)}",
        "TOKEN_EXPIRED",
    ),
    "not yet valid": (
        lambda: f"Bearer {issuer().mint(nbf=int(time.time()) + 3600)}",
        "TOKEN_NOT_YET_VALID",
    ),
    "wrong audience": (lambda: f"Bearer {issuer().mint(aud='another-api')}", "TOKEN_INVALID"),
    "wrong issuer": (
        lambda: f"Bearer {issuer().mint(iss='https://evil.invalid')}",
        "TOKEN_INVALID",
    ),
    "alg none": (lambda: f"Bearer {unsigned_token()}", "TOKEN_INVALID"),
    "forged signature": (lambda: f"Bearer {forged_token()}", "TOKEN_INVALID"),
    "hs256 with the rsa public key": (
        lambda: f"Bearer {hs256_token(issuer().rsa_public_pem())}",
        "TOKEN_INVALID",
    ),
}


@pytest.fixture
async def bare_channel(app: PaymentApplication) -> AsyncIterator[grpc.aio.Channel]:
    async with open_channel(f"127.0.0.1:{app.grpc_port}", token=None) as channel:
        yield channel


@pytest.fixture
async def bare_client(app: PaymentApplication) -> AsyncIterator[httpx.AsyncClient]:
    base_url = f"http://127.0.0.1:{app.rest_port}"
    async with httpx.AsyncClient(base_url=base_url, headers=rest_headers(token=None)) as client:
        yield client


@pytest.mark.parametrize("case", BAD_CREDENTIALS, ids=list(BAD_CREDENTIALS))
async def test_bad_credentials_are_unauthenticated_over_grpc(
    bare_channel: grpc.aio.Channel, case: str
) -> None:
    make, reason = BAD_CREDENTIALS[case]
    credential = make()
    metadata = (("authorization", credential),) if credential is not None else None
    error = await rpc_error(
        PaymentServiceStub(bare_channel).GetPayment(
            pb.GetPaymentRequest(payment_id=new_id()), metadata=metadata
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, reason)
    _, _, token = (credential or "").partition(" ")
    assert not token or token not in str(error.message) + str(error.metadata)  # not echoed


@pytest.mark.parametrize("case", BAD_CREDENTIALS, ids=list(BAD_CREDENTIALS))
async def test_bad_credentials_are_401_with_a_challenge_over_rest(
    bare_client: httpx.AsyncClient, case: str
) -> None:
    make, reason = BAD_CREDENTIALS[case]
    credential = make()
    headers = {"Authorization": credential} if credential is not None else {}
    response = await bare_client.get(f"/api/v1/payments/{new_id()}", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert [d["reason"] for d in error["details"] if "reason" in d] == [reason]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="payment-service"')
    assert ('error="invalid_token"' in challenge) is (reason != "TOKEN_MISSING")


async def test_health_reflection_and_openapi_need_no_token(
    bare_channel: grpc.aio.Channel, bare_client: httpx.AsyncClient
) -> None:
    health = await health_pb2_grpc.HealthStub(bare_channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert "payments.v1.PaymentService" in await _reflected_services(bare_channel)
    assert (await bare_client.get("/health")).json() == {"status": "SERVING"}
    document = (await bare_client.get("/openapi.json")).json()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["paths"]["/api/v1/webhooks/stripe"]["post"]["security"] == []


async def _reflected_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for answer in stub.ServerReflectionInfo(iter([request])):
        return {service.name for service in answer.list_services_response.service}
    return set()


async def test_webhooks_are_authenticated_by_signature_not_token(
    bare_client: httpx.AsyncClient,
) -> None:
    response = await bare_client.post(
        "/api/v1/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 400  # reached the signature check, which refused it
    reasons = [d.get("reason") for d in response.json()["error"]["details"]]
    assert reasons == ["WEBHOOK_SIGNATURE_INVALID"]


async def test_metrics_need_the_metrics_scope(bare_client: httpx.AsyncClient) -> None:
    missing = await bare_client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="payment-service"'
    reader = issuer().mint("prometheus", ["payments:read"])
    denied = await bare_client.get("/metrics", headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    assert 'scope="metrics:read"' in denied.headers["www-authenticate"]
    scraper = issuer().mint("prometheus", ["metrics:read"])
    allowed = await bare_client.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})
    assert allowed.status_code == 200
    assert "payments_grpc_requests_total" in allowed.text


async def test_idempotency_keys_belong_to_their_caller(
    channel: grpc.aio.Channel,
) -> None:
    """The same request_id from two users is two requests; from one user, one."""
    key = new_id()
    alice, bob = new_id(), new_id()
    stub = PaymentServiceStub(channel)
    first = await stub.CreatePayment(
        create_request(request_id=key, user_id=alice),
        metadata=(("authorization", f"Bearer {user_token(alice)}"),),
    )
    second = await stub.CreatePayment(
        create_request(request_id=key, user_id=bob),
        metadata=(("authorization", f"Bearer {user_token(bob)}"),),
    )
    assert first.payment.payment_id != second.payment.payment_id
    reused = await rpc_error(
        stub.CreatePayment(
            create_request(request_id=key, user_id=alice),
            metadata=(("authorization", f"Bearer {user_token(alice)}"),),
        )
    )
    assert reused.reason == "IDEMPOTENCY_KEY_REUSED"


@pytest.fixture
async def locked_down(database_url: str) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(grpc_reflection_enabled=False), database_url
    )
    await application.start()
    yield application
    await application.stop(grace=1)


async def test_reflection_can_be_switched_off(locked_down: PaymentApplication) -> None:
    async with open_channel(f"127.0.0.1:{locked_down.grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _reflected_services(channel)
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


async def test_authentication_off_in_development_makes_everyone_anonymous(
    database_url: str,
) -> None:
    application = PaymentApplication(
        settings_for_tests(auth_enabled=False, app_env="development"), database_url
    )
    await application.start()
    try:
        async with open_channel(f"127.0.0.1:{application.grpc_port}", token=None) as channel:
            created = await PaymentServiceStub(channel).CreatePayment(create_request())
        assert created.payment.payment_id
        assert application.development_token() is None
    finally:
        await application.stop(grace=1)
