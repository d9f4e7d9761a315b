"""Per-gateway circuit breakers whose state every replica shares through Redis.

`threshold` failures within `window` open the circuit for `open_for`: the gateway is skipped
(authorizations fail over) instead of being called. After that the next call is let through;
a success closes the circuit, a failure counts again. When Redis cannot be reached, each
process keeps its own count: still a breaker, just not a shared one.

Every gateway call asks whether the circuit is open and reports its result: asking Redis each
time would cost two round trips per call, for a state that changes rarely. Each process keeps
what it read for STATE_SECONDS, and a success is written only when the circuit was seen open
or failing; so another replica's verdict reaches a process within STATE_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.enums import GatewayName

BUDGET_SECONDS = 0.25
STATE_SECONDS = 0.5


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
        # gateway -> (read until, open, failures counted): what this process last read.
        self._seen: dict[GatewayName, tuple[float, bool, bool]] = {}

    def _keys(self, gateway: GatewayName) -> tuple[str, str]:
        return f"{self._prefix}{gateway.value}:failures", f"{self._prefix}{gateway.value}:open"

    async def _state(self, gateway: GatewayName) -> tuple[bool, bool]:
        """(open, failures counted), as read at most STATE_SECONDS ago. Raises RedisError or
        TimeoutError when it has to ask and Redis does not answer."""
        now = time.monotonic()
        seen = self._seen.get(gateway)
        if seen is not None and seen[0] > now:
            return seen[1], seen[2]
        failures_key, open_key = self._keys(gateway)
        async with asyncio.timeout(BUDGET_SECONDS):
            opened, failures = await self._redis.mget(open_key, failures_key)
        state = (opened is not None, failures is not None)
        self._seen[gateway] = (now + STATE_SECONDS, *state)
        return state

    async def is_open(self, gateway: GatewayName) -> bool:
        try:
            opened, _ = await self._state(gateway)
        except (RedisError, TimeoutError):
            return await self._local.is_open(gateway)
        return opened

    async def record_failure(self, gateway: GatewayName) -> None:
        failures_key, open_key = self._keys(gateway)
        self._seen.pop(gateway, None)  # read afresh next time: this may have opened it
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
            opened, failing = await self._state(gateway)
            if not opened and not failing:
                return  # nothing to close or to forget: no write
            self._seen.pop(gateway, None)
            async with asyncio.timeout(BUDGET_SECONDS):
                await self._redis.delete(failures_key, open_key)
        except (RedisError, TimeoutError):
            await self._local.record_success(gateway)
