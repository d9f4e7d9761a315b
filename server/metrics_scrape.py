"""What /metrics refreshes before it answers: the database gauges, the request pool, the
circuit breakers and the order consumer's lag.

Nothing here runs on the payment path: only a scrape triggers it, and at most once per
`min_interval` (METRICS_REFRESH_SECONDS) however many Prometheus servers, dashboards or
curl loops scrape; concurrent scrapes wait for the one refresh in progress."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.ports import CircuitBreaker
from server.metrics import ServiceMetrics
from server.metrics_database import DatabaseGauges

log = logging.getLogger("payments.metrics")

# Topic -> records not consumed yet (infra/messaging/consumer.py's lag()).
ConsumerLag = Callable[[], Mapping[str, int]]


class ScrapeRefresh:
    def __init__(
        self,
        metrics: ServiceMetrics,
        engine: AsyncEngine,
        *,
        breaker: CircuitBreaker,
        gateways: Callable[[], Iterable[GatewayName]],
        consumer_lag: ConsumerLag | None = None,
        min_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._engine = engine
        self._database = DatabaseGauges(metrics)
        self._breaker = breaker
        self._gateways = gateways
        self._consumer_lag = consumer_lag
        self._min_interval = min_interval
        self._clock = clock
        self._next_at = float("-inf")
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._clock() < self._next_at:
                return
            self._pool()  # in memory: cheap, but as fresh as the rest
            await self._database.refresh(self._engine)
            await self._circuits()
            self._lag()
            self._next_at = self._clock() + self._min_interval

    def _pool(self) -> None:
        pool = self._engine.pool
        oncall = self._metrics.oncall
        checked_out = getattr(pool, "checkedout", None)
        if checked_out is not None:
            oncall.db_pool_in_use.set(checked_out())
        size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", 0)
        if size is not None:
            oncall.db_pool_capacity.set(size() + max(overflow, 0))
        oncall.db_pool_waiting.set(pool_waiters(pool))

    async def _circuits(self) -> None:
        for gateway in self._gateways():
            try:
                opened = await self._breaker.is_open(gateway)
            except Exception as exc:  # the breakers fall back to local state themselves
                log.warning("circuit state not read: %s", type(exc).__name__)
                continue
            self._metrics.oncall.circuit_open.labels(gateway=gateway.value).set(int(opened))

    def _lag(self) -> None:
        if self._consumer_lag is None:
            return
        gauge = self._metrics.oncall.consumer_lag
        for topic, lag in self._consumer_lag().items():
            gauge.labels(topic=topic).set(lag)


def pool_waiters(pool: object) -> int:
    """Tasks blocked in the pool's checkout. SQLAlchemy counts connections, not waiters: its
    async pool hands connections out through an asyncio.Queue, whose pending getters are the
    waiters. Private attributes, read defensively: 0 when a version lays them out otherwise,
    or before the queue exists (it is created on first use)."""
    queue = getattr(pool, "_pool", None)
    inner = vars(queue).get("_queue") if queue is not None and hasattr(queue, "__dict__") else None
    getters = getattr(inner, "_getters", None)
    if getters is None:
        return 0
    return sum(1 for waiter in getters if not waiter.done())
