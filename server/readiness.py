"""What /readyz on the ops port checks: the database answers and is migrated to the head this
build ships; the Kafka brokers answer when Kafka is on. Each check runs when asked (a probe
every few seconds), with a timeout, and says what failed in words an operator can act on.
Exception messages are never repeated (they may carry host names or credentials from a URL):
only their type."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka.client import AIOKafkaClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging.clients import KafkaSecurity

# A check answers None when ready, else why not.
Check = Callable[[], Awaitable[str | None]]

_REVISIONS = text("SELECT version_num FROM alembic_version")


class DatabaseReadiness:
    """Reachable and at head: a replica started before its migration Job finished (or with a
    newer image than the schema) must not take traffic."""

    def __init__(self, engine: AsyncEngine, heads: frozenset[str]) -> None:
        self._engine = engine
        self._heads = heads

    async def __call__(self) -> str | None:
        try:
            async with self._engine.connect() as conn:
                found = frozenset(str(row[0]) for row in await conn.execute(_REVISIONS))
        except Exception as exc:  # any failure to reach or read the database: not ready
            return f"unreachable ({type(exc).__name__})"
        if found != self._heads:
            at = ", ".join(sorted(found)) or "no revision"
            return f"not migrated to head: at {at}, head is {', '.join(sorted(self._heads))}"
        return None


@dataclass
class KafkaReadiness:
    """The brokers answer a metadata request over a connection made like the relay's
    producer's (same bootstrap list and security). The relay's own producer lives only in the
    process holding the background lease; this check answers in every process."""

    brokers: list[str]
    client_id: str
    security: KafkaSecurity
    request_timeout_ms: int = 2000
    _client: AIOKafkaClient | None = field(default=None, init=False, repr=False)

    async def __call__(self) -> str | None:
        try:
            client = await self._connected()
            cluster = await client.fetch_all_metadata()
        except Exception as exc:  # unreachable, refused, authentication failed...
            await self.close()  # bootstrap again next time: the brokers may have moved
            return f"brokers unreachable ({type(exc).__name__})"
        if not cluster.brokers():
            return "no broker in the cluster metadata"
        return None

    async def _connected(self) -> AIOKafkaClient:
        if self._client is None:
            client = AIOKafkaClient(
                bootstrap_servers=self.brokers,
                client_id=f"{self.client_id}-readiness",
                request_timeout_ms=self.request_timeout_ms,
                **self.security.client_options(),
            )
            try:
                await client.bootstrap()
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.close()
                raise
            self._client = client
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


class Readiness:
    """Every check, concurrently, each within `timeout` seconds. While draining (SIGTERM
    received) it is not ready whatever the checks say: the endpoints drop this replica before
    its listeners close."""

    def __init__(self, checks: Mapping[str, Check], timeout: float) -> None:
        self._checks = dict(checks)
        self._timeout = timeout
        # Not ready until the application has started everything (the ops port is up first,
        # so /livez answers during a slow start), nor once it drains.
        self.starting = True
        self.draining = False

    async def problems(self) -> dict[str, str]:
        """Failed check -> why; empty when ready."""
        if self.draining:
            return {"process": "shutting down"}
        if self.starting:
            return {"process": "starting"}
        names = list(self._checks)
        answers = await asyncio.gather(*(self._run(name) for name in names))
        return {name: why for name, why in zip(names, answers, strict=True) if why is not None}

    async def _run(self, name: str) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._checks[name]()
        except TimeoutError:
            return f"no answer within {self._timeout:g}s"

    @property
    def names(self) -> list[str]:
        return list(self._checks)
