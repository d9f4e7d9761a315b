"""Velocity counters for the fraud checks: a sliding window per key in Redis (a sorted set
of members scored by the time they were last seen), trimmed, added to and counted by one Lua
script with the Redis server's clock.

A member is a payment: counting it again (a retry of the same payment) only refreshes it, so
a payment's own retries never push its user over a limit.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.risk import RiskSignalUnavailable

BUDGET_SECONDS = 0.25

# KEYS[1] the window; ARGV member, window in ms. Returns the members within the window.
_COUNT = """
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
"""


class RedisVelocityCounter:
    def __init__(
        self, redis: Redis, *, prefix: str, budget_seconds: float = BUDGET_SECONDS
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}fraud:velocity:"
        self._budget = budget_seconds
        self._count = redis.register_script(_COUNT)

    def key(self, name: str) -> str:
        # A digest: user ids and card fingerprints have no place in key names.
        return self._prefix + hashlib.sha256(name.encode()).hexdigest()[:32]

    async def count(self, keys: Sequence[str], member: str, window: timedelta) -> list[int]:
        window_ms = max(1, int(window.total_seconds() * 1000))
        try:
            async with asyncio.timeout(self._budget):
                # One round trip; each key on its own script call (cluster-safe slots).
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name in keys:
                        args: list[str | int] = [member, window_ms]
                        await self._count(keys=[self.key(name)], args=args, client=pipe)
                    counts = await pipe.execute()
        except (RedisError, TimeoutError, OSError) as exc:
            raise RiskSignalUnavailable(f"velocity counters unavailable: {exc!r}") from exc
        return [int(count) for count in counts]
