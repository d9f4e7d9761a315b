"""aiokafka clients shared by the outbox relay and the order-events consumer."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Protocol, TypeVar


class KafkaClient(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=KafkaClient)


async def started(client: C) -> C:
    """The client, started; a client that fails to start is stopped before the error goes up
    (aiokafka leaves its connections open otherwise)."""
    try:
        await client.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.stop()
        raise
    return client


def producer_settings(
    brokers: Sequence[str], client_id: str, enable_idempotence: bool, request_timeout_ms: int
) -> dict[str, object]:
    """A producer that waits for every in-sync replica (acks=all)."""
    return {
        "bootstrap_servers": list(brokers),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": enable_idempotence,
        "request_timeout_ms": request_timeout_ms,
    }
