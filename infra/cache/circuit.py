"""Per-gateway circuit breakers whose state every replica shares through Redis.

`threshold` failures within `window` open the circuit for `open_for`: the gateway is skipped
(authorizations fail over) instead of being called. After that the next call is let through;
a success closes the circuit, a failure counts again. When Redis cannot be reached, each
process keeps its own count: still a breaker, just not a shared one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.enums import GatewayName

BUDGET_SECONDS = 0.25


@dataclass
class LocalCircuitBreaker:
    threshold: int = 5
    window: float = 30.0
    open_for: float = 30.0
    _failures: dict[GatewayName, list[float]] = field(default_factory=dict)
    _open_until: dict[GatewayName, float] = field(default_factory=dict)

    async def is_open(self, gateway: GatewayName) -> bool:
        return self._open_until.get(gateway, 0.0) > time.monotonic()

    async def record_failure(self, gateway: GatewayName) -> None:
        now = time.monotonic()
        recent = [t for t in self._failures.get(gateway, []) if now - t < self.window]
        recent.append(now)
        self._failures[gateway] = recent
        if len(recent) >= self.threshold:
            self._open_until[gateway] = now + self.open_for
            self._failures[gateway] = []

    async def record_success(self, gateway: GatewayName) -> None:
        self._failures.pop(gateway, None)
        self._open_until.pop(gateway, None)


class RedisCircuitBreaker:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        threshold: int = 5,
        window: float = 30.0,
        open_for: float = 30.0,
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}circuit:"
        self._threshold, self._window, self._open_for = threshold, window, open_for
        self._local = LocalCircuitBreaker(threshold, window, open_for)

    def _keys(self, gateway: GatewayName) -> tuple[str, str]:
        return f"{self._prefix}{gateway.value}:failures", f"{self._prefix}{gateway.value}:open"

    async def is_open(self, gateway: GatewayName) -> bool:
        _, open_key = self._keys(gateway)
        try:
            async with asyncio.timeout(BUDGET_SECONDS):
                return bool(await self._redis.exists(open_key))
        except (RedisError, TimeoutError):
            return await self._local.is_open(gateway)

    async def record_failure(self, gateway: GatewayName) -> None:
        failures_key, open_key = self._keys(gateway)
        try:
            async with asyncio.timeout(BUDGET_SECONDS):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(failures_key)
                    pipe.pexpire(failures_key, int(self._window * 1000), nx=True)
                    count, _ = await pipe.execute()
                if int(count) >= self._threshold:
                    await self._redis.set(open_key, b"1", px=int(self._open_for * 1000))
                    await self._redis.delete(failures_key)
        except (RedisError, TimeoutError):
            await self._local.record_failure(gateway)

    async def record_success(self, gateway: GatewayName) -> None:
        failures_key, open_key = self._keys(gateway)
        try:
            async with asyncio.timeout(BUDGET_SECONDS):
                await self._redis.delete(failures_key, open_key)
        except (RedisError, TimeoutError):
            await self._local.record_success(gateway)
