"""The Redis client: short timeouts so that a slow or absent Redis costs little, and retries
with backoff so that a dropped connection (Redis restarted, failed over, idle connection cut)
is replaced by itself. The service never depends on Redis for correctness."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("payments.redis")


def make_redis(
    url: str,
    *,
    timeout: float = 0.5,
    retries: int = 2,
    health_check_interval: int = 5,
    max_connections: int | None = None,
    ssl_ca_file: str | None = None,
) -> Redis:
    """A pooled asyncio client for `url` (redis://, rediss:// or unix://). It connects lazily:
    building it never fails because Redis is down. rediss:// is TLS 1.2+ with the server's
    certificate and host name verified, against `ssl_ca_file` or the system's CAs."""
    retry = Retry(
        ExponentialBackoff(cap=0.25, base=0.02),
        retries,
        supported_errors=(RedisConnectionError, RedisTimeoutError),
    )
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # A connection idle for longer is PINGed before use, so a dead one is replaced first.
        health_check_interval=health_check_interval,
        retry=retry,
        max_connections=max_connections,
        client_name="payment-service",
        **(_tls_options(ssl_ca_file) if url.startswith("rediss://") else {}),
    )


def _tls_options(ca_file: str | None) -> dict[str, Any]:
    return {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": ca_file,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
    }


class RedisHealth:
    """Whether Redis answers a PING within `timeout`. Never raises."""

    def __init__(self, client: Redis, *, timeout: float = 1.0) -> None:
        self._client = client
        self._timeout = timeout

    async def check(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                return bool(await self._client.ping())
        except Exception as exc:  # any failure to reach Redis counts as unhealthy
            log.debug("redis ping failed: %s", type(exc).__name__)
            return False
