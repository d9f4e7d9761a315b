"""Rate limiting per caller end to end: a real server and real Redis, real concurrent calls
over gRPC and REST."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsError
from tests.e2e.guarded_app import Guarded, guarded_app
from tests.e2e.helpers import attempt, create_request, new_id, rpc_error
from tests.support.actors import acting_as
from tests.support.channels import rest_headers
from tests.support.polling import eventually, finished
from tests.support.redis_server import RedisServer

BURST = 5
LIMITED = grpc.StatusCode.RESOURCE_EXHAUSTED
# One token per 20 s: nothing refills while a test runs, so the counts below are exact.
SLOW = {
    "rate_limit_enabled": True,
    "rate_limit_requests_per_second": 0.05,
    "rate_limit_burst": BURST,
}
# Without authentication a caller is its address: a test acts as an address over REST (the
# shim forwards the HTTP client's) and chooses one over gRPC from loopback, which the limiter
# trusts (it is where the shim calls from). With authentication these servers would limit the
# test's token instead, so they switch it off.
NO_AUTH = {"auth_enabled": False}


def status_request() -> pb.GetPaymentStatusRequest:
    return pb.GetPaymentStatusRequest(payment_id=new_id())  # NOT_FOUND, but a call all the same


async def burst_of(guarded: Guarded, calls: int, metadata: Any = ()) -> list[PaymentsError]:
    """`calls` concurrent calls; the decoded error of each (every one fails: unknown ids, or
    the limit). A call still unanswered after a minute fails the test showing where it waits."""
    burst = asyncio.gather(
        *(
            attempt(guarded.stub.GetPaymentStatus(status_request(), metadata=metadata))
            for _ in range(calls)
        )
    )
    answers = await finished(burst, within=60, what=f"a burst of {calls} calls")
    errors = [a for a in answers if isinstance(a, PaymentsError)]
    assert len(errors) == calls
    assert {e.code for e in errors} <= {grpc.StatusCode.NOT_FOUND, LIMITED}, errors
    return errors


async def warmed(guarded: Guarded) -> Guarded:
    """The server's Redis pool filled by a burst of another caller: a cold pool opens a
    connection per concurrent call, and on a busy machine one past the limiter's 250 ms
    budget is allowed (fail open by design), which would blur the exact counts below."""
    # A caller of its own both with authentication (the token's subject) and without it
    # (the address, which the limiter takes from loopback callers).
    warm_up = (*acting_as("warm-up"), ("x-forwarded-for", "198.51.100.9"))
    await burst_of(guarded, 40, warm_up)
    return guarded


def limited(errors: list[PaymentsError]) -> list[PaymentsError]:
    return [e for e in errors if e.code == LIMITED]


async def test_concurrent_calls_over_the_burst_are_refused_with_retry_info(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    async with guarded_app(database_url, redis_url, redis_key_prefix, **SLOW) as guarded:
        errors = await burst_of(await warmed(guarded), 30, acting_as("client-a"))
        refused = limited(errors)
        assert len(refused) == 30 - BURST
        assert {e.code for e in errors if e not in refused} == {grpc.StatusCode.NOT_FOUND}
        for error in refused:
            assert error.reason == "RATE_LIMITED"
            assert error.retryable
            # The next token is 20 s away (one per 20 s).
            assert error.retry_delay_seconds is not None
            assert 0 < error.retry_delay_seconds <= 20
        # A refused call does nothing, not even claim its idempotency key: the same request
        # from another caller in the same idempotency scope (the test subjects leave the
        # scope, server.context.caller_var, alone) runs instead of replaying the refusal.
        create = create_request()
        refused_create = await rpc_error(
            guarded.stub.CreatePayment(create, metadata=acting_as("client-a"))
        )
        assert refused_create.reason == "RATE_LIMITED"
        answer = await guarded.stub.CreatePayment(create, metadata=acting_as("client-b"))
        assert answer.payment.status == payment_pb2.PAYMENT_STATUS_PENDING


async def test_callers_are_limited_independently(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    async with guarded_app(database_url, redis_url, redis_key_prefix, **SLOW) as guarded:
        await warmed(guarded)
        alice, bob = acting_as("alice"), acting_as("bob")
        assert len(limited(await burst_of(guarded, BURST + 3, alice))) == 3
        assert limited(await burst_of(guarded, BURST, bob)) == []  # untouched by alice
        assert len(limited(await burst_of(guarded, 2, bob))) == 2
        assert len(limited(await burst_of(guarded, 1, alice))) == 1


async def test_anonymous_callers_are_limited_by_address_and_health_is_exempt(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    async with guarded_app(database_url, redis_url, redis_key_prefix, **SLOW, **NO_AUTH) as guarded:
        await warmed(guarded)
        here = (("x-forwarded-for", "203.0.113.1"),)
        there = (("x-forwarded-for", "203.0.113.2"),)
        assert len(limited(await burst_of(guarded, BURST + 2, here))) == 2
        assert limited(await burst_of(guarded, BURST, there)) == []
        health = health_pb2_grpc.HealthStub(guarded.channel)
        for _ in range(3 * BURST):
            answer = await health.Check(health_pb2.HealthCheckRequest(), metadata=here)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_rest_answers_429_with_retry_after(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    async with (
        guarded_app(database_url, redis_url, redis_key_prefix, **SLOW, **NO_AUTH) as guarded,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{guarded.app.rest_port}", headers=rest_headers()
        ) as rest,
    ):
        await warmed(guarded)
        requests = asyncio.gather(
            *(rest.get(f"/api/v1/payments/{new_id()}") for _ in range(BURST + 4))
        )
        answers = await finished(requests, within=60, what="a burst of REST calls")
        codes = sorted(a.status_code for a in answers)
        assert codes == [404] * BURST + [429] * 4
        for answer in answers:
            if answer.status_code != 429:
                assert "retry-after" not in answer.headers
                continue
            assert 1 <= int(answer.headers["retry-after"]) <= 20
            error = answer.json()["error"]
            assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
            reasons = [d.get("reason") for d in error["details"]]
            assert "RATE_LIMITED" in reasons
            [retry] = [d for d in error["details"] if d["@type"].endswith("RetryInfo")]
            assert retry["retry_delay"].endswith("s")
        # /health is exempt.
        for _ in range(2 * BURST):
            assert (await rest.get("/health")).status_code == 200


async def test_with_redis_down_the_service_keeps_serving_unlimited(
    private_redis: RedisServer,
    database_url: str,
    redis_key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "payments.ratelimit")
    async with guarded_app(database_url, private_redis.url, redis_key_prefix, **SLOW) as guarded:
        me = acting_as("client-r")
        await warmed(guarded)
        assert len(limited(await burst_of(guarded, BURST + 1, me))) == 1
        private_redis.stop()
        assert limited(await burst_of(guarded, 3 * BURST, me)) == []  # fails open
        answer = await guarded.stub.CreatePayment(create_request(authorize=True), metadata=me)
        assert answer.payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED
        warnings = [r for r in caplog.records if r.name == "payments.ratelimit"]
        assert len(warnings) == 1  # one line for the outage, not one per call
        await private_redis.start()

        async def limiting_again() -> bool:
            return bool(limited(await burst_of(guarded, 1, me)))

        # The restarted Redis has lost the bucket: a fresh burst, then limits again.
        await eventually(limiting_again, within=15)
