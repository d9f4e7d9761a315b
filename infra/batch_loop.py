"""The loop of a worker that drains a table in batches (the outbox relay, the analytics
projector): a full batch goes again at once, a short one waits the poll interval, and a
failure (the database, the broker) backs off exponentially up to a ceiling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def drain_in_batches(
    batch: Callable[[], Awaitable[int]],
    *,
    batch_size: int,
    poll_interval: float,
    max_backoff: float,
    on_failure: Callable[[Exception, float], None],
) -> None:
    """Runs `batch` (returns how many rows it handled) until cancelled; `on_failure` is told
    each error and how long the loop waits before trying again."""
    backoff = poll_interval
    while True:
        try:
            handled = await batch()
        except Exception as exc:
            on_failure(exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        backoff = poll_interval
        if handled < batch_size:
            await asyncio.sleep(poll_interval)
