"""A token bucket per caller in Redis, refilled continuously at `rate` per second up to
`burst`. One Lua script reads, refills, takes and writes the bucket atomically, with the
Redis server's clock, so that every replica shares one allowance per caller.

Redis unreachable or slow: the call is allowed (fail open) and the outage is logged at most
once per 30 seconds. Limits protect capacity; PostgreSQL still guards correctness.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.rate_limit import RateLimitVerdict

log = logging.getLogger("payments.ratelimit")

BUDGET_SECONDS = 0.25
WARN_EVERY_SECONDS = 30.0

# KEYS[1] the bucket; ARGV rate (tokens/s), burst. Returns {allowed (0/1), wait in ms}.
# Times in milliseconds: Lua prints numbers with 14 significant digits, enough for them.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


class RedisTokenBucket:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        rate_per_second: float,
        burst: int,
        budget_seconds: float = BUDGET_SECONDS,
    ) -> None:
        self._prefix = f"{prefix}ratelimit:"
        self._rate, self._burst = rate_per_second, burst
        self._budget = budget_seconds
        self._take = redis.register_script(_TAKE)
        self._warned_at = -WARN_EVERY_SECONDS

    def key(self, caller: str) -> str:
        # A digest: callers are user ids and addresses, which have no place in key names.
        return self._prefix + hashlib.sha256(caller.encode()).hexdigest()[:32]

    async def acquire(self, caller: str) -> RateLimitVerdict:
        try:
            async with asyncio.timeout(self._budget):
                allowed, wait_ms = await self._take(
                    keys=[self.key(caller)], args=[repr(self._rate), self._burst]
                )
        except (RedisError, TimeoutError, OSError) as exc:
            self._unavailable(exc)
            return RateLimitVerdict(allowed=True)
        return RateLimitVerdict(bool(allowed), int(wait_ms) / 1000)

    def _unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("redis unavailable, rate limiting is off until it returns: %r", exc)
