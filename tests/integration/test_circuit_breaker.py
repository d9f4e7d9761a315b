"""Circuit breakers: shared by every replica through Redis, per process when Redis is down."""

from __future__ import annotations

import uuid

import pytest

from domain.enums import GatewayName
from infra.cache import make_redis
from infra.cache.circuit import STATE_SECONDS, LocalCircuitBreaker, RedisCircuitBreaker
from tests.support.polling import eventually
from tests.support.redis_server import RedisServer


def two_replicas(url: str) -> tuple[RedisCircuitBreaker, RedisCircuitBreaker]:
    """Two processes' breakers: separate clients, the same Redis and key prefix."""
    prefix = f"cb-{uuid.uuid4().hex[:8]}:"

    def replica() -> RedisCircuitBreaker:
        return RedisCircuitBreaker(
            make_redis(url), prefix=prefix, threshold=3, window=30, open_for=30
        )

    return replica(), replica()


async def test_failures_seen_by_one_replica_open_the_circuit_for_all(redis_url: str) -> None:
    first, second = two_replicas(redis_url)
    for _ in range(2):
        await first.record_failure(GatewayName.STRIPE)
    assert not await second.is_open(GatewayName.STRIPE)
    await second.record_failure(GatewayName.STRIPE)  # the third, on the other replica
    assert await first.is_open(GatewayName.STRIPE)
    assert await second.is_open(GatewayName.STRIPE)
    assert not await first.is_open(GatewayName.PAYPAL)  # per gateway
    await first.record_success(GatewayName.STRIPE)
    assert not await first.is_open(GatewayName.STRIPE)

    async def closed_for_the_other_replica() -> bool:  # once its read of the state is stale
        return not await second.is_open(GatewayName.STRIPE)

    await eventually(closed_for_the_other_replica, within=5 * STATE_SECONDS)


async def test_without_redis_each_replica_still_breaks_its_own_circuit(
    private_redis: RedisServer,
) -> None:
    breaker = RedisCircuitBreaker(
        make_redis(private_redis.url), prefix="cb:", threshold=2, window=30, open_for=30
    )
    private_redis.stop()
    await breaker.record_failure(GatewayName.STRIPE)
    await breaker.record_failure(GatewayName.STRIPE)
    assert await breaker.is_open(GatewayName.STRIPE)


@pytest.mark.parametrize("failures", [1, 2])
async def test_local_breaker_opens_at_the_threshold(failures: int) -> None:
    breaker = LocalCircuitBreaker(threshold=2, window=30, open_for=30)
    for _ in range(failures):
        await breaker.record_failure(GatewayName.SIMULATOR)
    assert await breaker.is_open(GatewayName.SIMULATOR) is (failures >= 2)
