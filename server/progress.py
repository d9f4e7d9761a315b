"""Progress of operators' long jobs (`rotate-keys`, `retention run`, `dlq replay`) on stderr,
so that stdout keeps only the report a script may parse. At most one line a second per job,
plus the last one: a job of a million rows does not flood the terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StderrProgress:
    def __init__(self, job: str, *, every: float = 1.0, stream: TextIO | None = None) -> None:
        self._job = job
        self._every = every
        self._stream = stream
        self._last: float | None = None  # the first line is always shown
        self._what: str | None = None

    def say(self, text: str, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and self._last is not None and now - self._last < self._every:
            return
        self._last = now
        print(f"{self._job}: {text}", file=self._stream or sys.stderr, flush=True)

    def step(self, done: int, total: int) -> None:
        """`done` of `total`; the last step is always shown."""
        self.say(f"{done}/{total}", final=done >= total)

    def count(self, what: str, done: int) -> None:
        """A running count where the total is not known in advance (batch after batch); the
        first count of each `what` (a table, a policy) is always shown."""
        new = what != self._what
        self._what = what
        self.say(f"{what} {done}", final=new)
