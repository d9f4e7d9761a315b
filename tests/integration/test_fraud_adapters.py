"""The adapters of the fraud checks and the rate limiter against real components: Redis (the
token bucket and velocity counters, including an outage of a private server) and a real
HTTP server playing the external risk scorer. Also the parsing of their settings."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from domain.enums import PaymentMethodType
from domain.money import Money
from domain.risk import RiskDecision, RiskSignalUnavailable, RiskSubject
from infra.cache import make_redis
from infra.cache.rate_limit import RedisTokenBucket
from infra.cache.velocity import RedisVelocityCounter
from infra.fraud.scorer import HttpRiskScorer, parse_score
from server.config import Settings
from server.rate_limit import peer_host
from tests.fakes.http_server import STALL, HttpServer, Request, Response
from tests.support.polling import eventually
from tests.support.redis_server import RedisServer


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis_key_prefix: str) -> str:
    """A prefix of this test's own under the session's (tests own their data)."""
    return f"{redis_key_prefix}{uuid.uuid4().hex[:8]}:"


# --- token bucket ----------------------------------------------------------------------------
async def test_the_bucket_allows_the_burst_then_refuses_with_the_wait(
    redis: Redis, prefix: str
) -> None:
    bucket = RedisTokenBucket(redis, prefix=prefix, rate_per_second=2, burst=5)
    verdicts = [await bucket.acquire("caller-a") for _ in range(6)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    # Two tokens a second: the next one is at most half a second away.
    assert 0 < verdicts[-1].retry_after_seconds <= 0.5
    # Another caller has an allowance of its own.
    assert (await bucket.acquire("caller-b")).allowed


async def test_concurrent_takes_never_exceed_the_burst(redis: Redis, prefix: str) -> None:
    # A generous budget: on a busy machine 60 new connections may take longer than the
    # default 250 ms, and a call past its budget is allowed (fail open), not what this tests.
    bucket = RedisTokenBucket(
        redis, prefix=prefix, rate_per_second=0.01, burst=20, budget_seconds=10
    )
    verdicts = await asyncio.gather(*(bucket.acquire("caller") for _ in range(60)))
    assert sum(v.allowed for v in verdicts) == 20


async def test_the_bucket_refills_over_time(redis: Redis, prefix: str) -> None:
    bucket = RedisTokenBucket(redis, prefix=prefix, rate_per_second=20, burst=1)
    assert (await bucket.acquire("caller")).allowed
    assert not (await bucket.acquire("caller")).allowed

    async def refilled() -> bool:
        return (await bucket.acquire("caller")).allowed

    await eventually(refilled, within=2)


async def test_the_bucket_keys_hold_no_caller_id_and_expire(redis: Redis, prefix: str) -> None:
    bucket = RedisTokenBucket(redis, prefix=prefix, rate_per_second=10, burst=10)
    await bucket.acquire("user:4c1d-secret-subject")
    keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}*")]
    assert len(keys) == 1 and "secret" not in keys[0]
    assert 0 < await redis.pttl(keys[0]) <= 2000  # a full bucket needs no memory


async def test_the_bucket_fails_open_with_one_log_line_while_redis_is_down(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_redis(private_redis.url)
    try:
        bucket = RedisTokenBucket(client, prefix="rl:", rate_per_second=1, burst=1)
        assert (await bucket.acquire("caller")).allowed
        assert not (await bucket.acquire("caller")).allowed
        private_redis.stop()
        caplog.set_level(logging.WARNING, "payments.ratelimit")
        verdicts = [await bucket.acquire("caller") for _ in range(5)]
        assert all(v.allowed for v in verdicts)
        warnings = [r for r in caplog.records if r.name == "payments.ratelimit"]
        assert len(warnings) == 1 and "rate limiting is off" in warnings[0].getMessage()
        await private_redis.start()

        async def limiting_again() -> bool:
            return not (await bucket.acquire("caller")).allowed

        await eventually(limiting_again, within=10)
    finally:
        await client.aclose()


# --- velocity counters -----------------------------------------------------------------------
async def test_velocity_counts_distinct_members_per_key(redis: Redis, prefix: str) -> None:
    counter = RedisVelocityCounter(redis, prefix=prefix)
    hour = timedelta(hours=1)
    assert await counter.count(["user:a", "card:x"], "p1", hour) == [1, 1]
    assert await counter.count(["user:a", "card:x"], "p1", hour) == [1, 1]  # a retry
    assert await counter.count(["user:a", "card:y"], "p2", hour) == [2, 1]
    assert await counter.count(["user:b"], "p3", hour) == [1]
    keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}*")]
    assert len(keys) == 4 and not any("user:a" in key for key in keys)


async def test_velocity_window_slides(redis: Redis, prefix: str) -> None:
    counter = RedisVelocityCounter(redis, prefix=prefix)
    window = timedelta(milliseconds=300)
    assert await counter.count(["k"], "p1", window) == [1]
    assert await counter.count(["k"], "p2", window) == [2]

    async def forgotten() -> bool:
        return await counter.count(["k"], "p3", window) == [1]

    await eventually(forgotten, within=3)


async def test_velocity_raises_unavailable_when_redis_is_down(
    private_redis: RedisServer,
) -> None:
    client = make_redis(private_redis.url)
    try:
        counter = RedisVelocityCounter(client, prefix="v:")
        assert await counter.count(["k"], "p1", timedelta(hours=1)) == [1]
        private_redis.stop()
        with pytest.raises(RiskSignalUnavailable):
            await counter.count(["k"], "p2", timedelta(hours=1))
    finally:
        await client.aclose()


# --- the external scorer ---------------------------------------------------------------------
SUBJECT = RiskSubject(
    payment_id="00000000-0000-4000-8000-000000000001",
    user_id="aaaaaaaa-0000-4000-8000-000000000001",
    amount=Money(1099, "EUR"),
    country="DE",
    method_type=PaymentMethodType.CREDIT_CARD,
    card_key="fp:abc",
    card_bin="424242",
)


class Scorer:
    """A real HTTP server answering what the test says, recording what it was sent."""

    def __init__(self) -> None:
        self.answer: object = Response(200, {"score": 12})
        self.requests: list[Request] = []
        self.server = HttpServer(self._handle)

    async def _handle(self, request: Request) -> object:
        self.requests.append(request)
        return self.answer


@pytest.fixture
async def scorer() -> AsyncIterator[Scorer]:
    fake = Scorer()
    await fake.server.start()
    yield fake
    await fake.server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_the_scorer_is_sent_the_payment_without_card_data(
    scorer: Scorer, http: httpx.AsyncClient
) -> None:
    adapter = HttpRiskScorer(http, f"{scorer.server.url}/score", timeout_seconds=2, api_key="k1")
    assert await adapter.score(SUBJECT) == 12
    [request] = scorer.requests
    assert (request.method, request.path) == ("POST", "/score")
    assert request.headers["authorization"] == "Bearer k1"
    assert request.json() == {
        "paymentId": SUBJECT.payment_id,
        "userId": SUBJECT.user_id,
        "amountMinor": 1099,
        "currency": "EUR",
        "country": "DE",
        "paymentMethodType": "CREDIT_CARD",
        "cardBin": "424242",
        "cardKey": "fp:abc",
    }


@pytest.mark.parametrize(
    "answer",
    [
        Response(500, {"score": 1}),
        Response(200, {"risk": 1}),
        Response(200, {"score": "high"}),
        Response(200, {"score": 101}),
        Response(200, {"score": True}),
        Response(200, ["score", 1]),
    ],
)
async def test_an_unusable_answer_is_unavailable(
    scorer: Scorer, http: httpx.AsyncClient, answer: Response
) -> None:
    scorer.answer = answer
    adapter = HttpRiskScorer(http, scorer.server.url, timeout_seconds=2)
    with pytest.raises(RiskSignalUnavailable):
        await adapter.score(SUBJECT)


async def test_a_scorer_that_does_not_answer_in_time_is_unavailable(
    scorer: Scorer, http: httpx.AsyncClient
) -> None:
    scorer.answer = STALL
    adapter = HttpRiskScorer(http, scorer.server.url, timeout_seconds=0.3)
    with pytest.raises(RiskSignalUnavailable, match="in time"):
        await adapter.score(SUBJECT)


async def test_an_unreachable_scorer_is_unavailable(http: httpx.AsyncClient) -> None:
    adapter = HttpRiskScorer(http, "http://127.0.0.1:1/score", timeout_seconds=1)
    with pytest.raises(RiskSignalUnavailable, match="unreachable"):
        await adapter.score(SUBJECT)


@pytest.mark.parametrize(
    ("body", "score"),
    [(b'{"score": 0}', 0), (b'{"score": 84.5}', 85), (b'{"score": 84.49}', 84),
     (b'{"score": 1e2}', 100), (b'{"score": 100.0}', 100)],
)  # fmt: skip
def test_scores_are_read_exactly_and_rounded_half_up(body: bytes, score: int) -> None:
    assert parse_score(body) == score


# --- settings --------------------------------------------------------------------------------
def test_fraud_settings_become_the_policy() -> None:
    policy = Settings(
        fraud_review_amount_limits="eur:50000, JPY:80000",
        fraud_block_amount_limits="EUR:500000",
        fraud_blocked_countries="kp, IR",
        fraud_blocked_bins="400000,5555",
        fraud_velocity_max_per_user=5,
        fraud_velocity_action="review",
        fraud_scorer_fail_mode="closed",
    ).risk_policy()
    assert policy.review_amount_minor == {"EUR": 50_000, "JPY": 80_000}
    assert policy.block_amount_minor == {"EUR": 500_000}
    assert policy.blocked_countries == {"KP", "IR"}
    assert policy.blocked_bins == {"400000", "5555"}
    assert (policy.max_payments_per_user, policy.velocity_decision) == (5, RiskDecision.REVIEW)
    assert policy.velocity_unavailable is RiskDecision.ALLOW  # fail open unless told
    assert policy.scorer_unavailable is RiskDecision.BLOCK


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("fraud_block_amount_limits", "EUR:10.50", "FRAUD_BLOCK_AMOUNT_LIMITS"),
        ("fraud_review_amount_limits", "EURO:100", "FRAUD_REVIEW_AMOUNT_LIMITS"),
        ("fraud_blocked_countries", "GER", "FRAUD_BLOCKED_COUNTRIES"),
        ("fraud_blocked_bins", "42x", "FRAUD_BLOCKED_BINS"),
        ("fraud_scorer_url", "ftp://scorer", "FRAUD_SCORER_URL"),
        ("fraud_scorer_review_score", 90, "FRAUD_SCORER_REVIEW_SCORE"),
    ],
)
def test_a_wrong_fraud_setting_is_named(setting: str, value: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings(**{setting: value})


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:10.1.2.3:50000", "10.1.2.3"),
        ("ipv6:[::1]:443", "::1"),
        ("unix:/tmp/s", "unix:/tmp/s"),
    ],
)
def test_peer_addresses_lose_their_port(peer: str, host: str) -> None:
    assert peer_host(peer) == host


def test_a_policy_without_rules_is_told_apart() -> None:
    assert not Settings().risk_policy().has_rules
    assert Settings(fraud_blocked_countries="KP").risk_policy().has_rules
    assert Settings(fraud_velocity_max_per_card=3).risk_policy().has_rules
