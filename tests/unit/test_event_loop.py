"""Serving processes run on uvloop (server/event_loop.py)."""

from __future__ import annotations

import asyncio

from server import event_loop


async def _loop_class() -> str:
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"


def test_the_serving_loop_is_uvloops() -> None:
    assert event_loop.run(_loop_class()) == "uvloop.Loop"
