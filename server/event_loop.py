"""The event loop every serving process runs on: uvloop's (libuv), whose scheduling and socket
I/O cost less CPU per call than asyncio's own loop. A process that serves calls (the server,
each of its workers) starts through `run`."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


# The cyclic garbage collector's youngest generation is collected after this many net
# allocations of container objects (CPython's default: 700). A call allocates thousands
# (protobuf messages, rows, dicts), so with the default a collection ran several times per
# call, each walking the young objects; the memory it frees is the same, later.
GC_YOUNG_THRESHOLD = 20_000


def run(main: Coroutine[Any, Any, T]) -> T:
    """`main` to completion on a new uvloop loop; on asyncio's when uvloop is not installed
    (it is a dependency, but not built for every platform)."""
    try:
        import uvloop  # noqa: PLC0415 - optional at import time, see above
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def settle_heap() -> None:
    """Once the server has started: what is alive now (modules, descriptors, pools, caches)
    lives as long as the process, so it moves out of the collector's generations and the
    oldest generation's full collections stop walking it again and again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
