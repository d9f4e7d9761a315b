"""Serving processes run on uvloop (server/event_loop.py)."""

from __future__ import annotations

import asyncio
import gc

from server import event_loop


async def _loop_class() -> str:
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"


def test_the_serving_loop_is_uvloops() -> None:
    assert event_loop.run(_loop_class()) == "uvloop.Loop"


def test_a_started_server_settles_its_heap() -> None:
    """What exists once the server has started is frozen out of the collector's generations,
    and the youngest generation is collected less often than CPython's default."""
    threshold = gc.get_threshold()
    try:
        gc.unfreeze()
        garbage: list[list[object]] = [[] for _ in range(1000)]  # containers the collector tracks
        event_loop.settle_heap()
        assert gc.get_freeze_count() >= len(garbage)
        assert gc.get_threshold()[0] == event_loop.GC_YOUNG_THRESHOLD > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
