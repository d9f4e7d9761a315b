"""Redis as a component: the client factory, its health, reconnection after an outage, and
the `redis` entry of grpc.health.v1 that never takes the service down with it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infra.cache import RedisHealth, make_redis
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import REDIS_HEALTH_SERVICE, PaymentApplication
from server.cli import banner, resolve_redis
from server.config import AppEnv, Settings
from tests.e2e.helpers import create_request
from tests.support.channels import open_channel
from tests.support.polling import eventually
from tests.support.redis_server import RedisServer
from tests.support.servers import settings_for_tests

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
async def client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    redis = make_redis(private_redis.url)
    yield redis
    await redis.aclose()


async def test_the_factory_connects_and_keys_round_trip(
    redis_url: str, redis_key_prefix: str
) -> None:
    redis = make_redis(redis_url)
    try:
        key = f"{redis_key_prefix}probe:{uuid.uuid4().hex}"
        assert await redis.set(key, b"value", px=60_000)
        assert await redis.get(key) == b"value"
        assert 0 < await redis.pttl(key) <= 60_000
    finally:
        await redis.aclose()


async def test_a_client_to_nowhere_is_built_and_reports_unhealthy() -> None:
    redis = make_redis("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert await RedisHealth(redis).check() is False
    finally:
        await redis.aclose()


async def test_health_follows_an_outage_and_the_client_reconnects_by_itself(
    private_redis: RedisServer, client: Redis
) -> None:
    health = RedisHealth(client, timeout=1.0)
    assert await health.check() is True

    private_redis.stop()
    await eventually(_is(health, False))
    with pytest.raises(RedisConnectionError):
        await client.get("payments-test:absent")

    await private_redis.start()
    await eventually(_is(health, True))
    # The same client, never rebuilt, works again.
    assert await client.set("payments-test:after", b"1")
    assert await client.get("payments-test:after") == b"1"


async def test_a_restart_between_two_commands_is_invisible(
    private_redis: RedisServer, client: Redis
) -> None:
    """The pooled connection dies with the server; the next command retries on a new one."""
    assert await client.set("payments-test:before", b"1")
    private_redis.stop()
    await private_redis.start()
    assert await client.get("payments-test:before") is None  # no persistence: a fresh server
    assert await client.ping()


def _is(health: RedisHealth, expected: bool) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return await health.check() is expected

    return condition


async def health_of(channel: grpc.aio.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


async def test_redis_down_is_reported_without_taking_the_service_down(
    database_url: str, private_redis: RedisServer
) -> None:
    url = private_redis.url
    application = PaymentApplication(settings_for_tests(), database_url, redis_url=url)
    await application.start()
    try:
        assert application.redis is not None
        async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
            assert await health_of(channel, REDIS_HEALTH_SERVICE) == SERVING
            assert await health_of(channel) == SERVING

            private_redis.stop()

            async def redis_not_serving() -> bool:
                return await health_of(channel, REDIS_HEALTH_SERVICE) == NOT_SERVING

            await eventually(redis_not_serving)
            assert await health_of(channel) == SERVING
            assert await health_of(channel, "payments.v1.PaymentService") == SERVING
            created = await PaymentServiceStub(channel).CreatePayment(create_request())
            assert created.payment.payment_id

            await private_redis.start()

            async def redis_serving() -> bool:
                return await health_of(channel, REDIS_HEALTH_SERVICE) == SERVING

            await eventually(redis_serving)
    finally:
        await application.stop(grace=0)


async def test_without_redis_there_is_no_client_and_no_redis_health(database_url: str) -> None:
    application = PaymentApplication(settings_for_tests(), database_url)
    await application.start()
    try:
        assert application.redis is None
        async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
            assert await health_of(channel) == SERVING
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await health_of(channel, REDIS_HEALTH_SERVICE)
            assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    finally:
        await application.stop(grace=0)


# Configuration (no I/O).


def redis_settings(**values: object) -> Settings:
    base: dict[str, object] = {"REDIS_URL": None, "redis_host": None}
    return Settings(**(base | values))  # type: ignore[arg-type]


def test_redis_is_built_from_host_port_db_and_password() -> None:
    settings = redis_settings(
        redis_host="cache.internal", redis_port=6380, redis_db=3, redis_password="p@ss/word"
    )
    assert settings.redis_configured
    assert settings.redis_url_value() == "redis://:p%40ss%2Fword@cache.internal:6380/3"


@pytest.mark.parametrize(
    "url",
    ["redis://cache:6379/0", "rediss://user:secret@cache.example.com:6380/1", "unix:///run/r.sock"],
)
def test_redis_url_takes_precedence_and_tls_is_accepted(url: str) -> None:
    settings = redis_settings(REDIS_URL=url, redis_host="ignored")
    assert settings.redis_url_value() == url


def test_a_redis_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        redis_settings(REDIS_URL="http://cache:6379").redis_url_value()


def test_redis_key_prefix_has_a_default_and_cannot_be_empty() -> None:
    assert redis_settings().redis_key_prefix == "payments:"
    with pytest.raises(ValueError, match="redis_key_prefix"):
        redis_settings(redis_key_prefix="")


def test_production_without_redis_runs_without_the_cache(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="payments.cli"):
        url, description = resolve_redis(redis_settings(app_env=AppEnv.PRODUCTION))
    assert url is None
    assert "without the cache" in description
    assert "running without the Redis cache" in caplog.text


def test_configured_redis_is_described_without_its_password() -> None:
    settings = redis_settings(REDIS_URL="rediss://user:secret@cache.example.com:6380/2")
    url, description = resolve_redis(settings)
    assert url == "rediss://user:secret@cache.example.com:6380/2"
    assert "secret" not in description
    assert "rediss://cache.example.com:6380/2" in description
    assert "redis     configured Redis" in banner(settings, 9090, "db", description)


def test_an_invalid_redis_url_stops_the_start_with_code_2() -> None:
    with pytest.raises(SystemExit) as exit_:
        resolve_redis(redis_settings(REDIS_URL="memcached://cache"))
    assert exit_.value.code == 2
