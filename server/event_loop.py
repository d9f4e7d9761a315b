"""The event loop every serving process runs on: uvloop's (libuv), whose scheduling and socket
I/O cost less CPU per call than asyncio's own loop. A process that serves calls (the server,
each of its workers) starts through `run`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`main` to completion on a new uvloop loop; on asyncio's when uvloop is not installed
    (it is a dependency, but not built for every platform)."""
    try:
        import uvloop  # noqa: PLC0415 - optional at import time, see above
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
