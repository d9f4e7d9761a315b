"""Wait for a condition with a deadline instead of sleeping."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, within: float = 10.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + within
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


async def finished(call: Awaitable[T], *, within: float, what: str) -> T:
    """`call`'s result, or an AssertionError after `within` seconds that shows where every
    task of the loop waits: when the server runs in the test's process, that includes the
    stuck call's handler, which a bare test timeout would not show."""
    task = asyncio.ensure_future(call)
    # asyncio.wait, not asyncio.timeout: the stacks are taken before anything is cancelled.
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        stacks = pending_tasks()
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
        raise AssertionError(f"{what} not done within {within}s\n{stacks}")
    return task.result()


def pending_tasks() -> str:
    """The stack of every unfinished task of the running loop."""
    report = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(limit=12, file=report)
    return report.getvalue()


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
