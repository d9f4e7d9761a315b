"""What the client tests (grpcio and betterproto2 clients alike) drive their retries with."""

from __future__ import annotations

from typing import Any

from payments_client import CallSettings, PaymentsError, RetryPolicy

# Many quick attempts: on a loaded machine a first attempt may take a while to finish.
QUICK = CallSettings(retry=RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.5))


class Retries:
    """An on_retry hook that records each retry and may act on the first (heal a fault)."""

    def __init__(self, on_first: Any = None) -> None:
        self.seen: list[tuple[str, int, PaymentsError, float]] = []
        self._on_first = on_first

    def __call__(self, method: str, attempt: int, error: PaymentsError, delay: float) -> None:
        self.seen.append((method, attempt, error, delay))
        if len(self.seen) == 1 and self._on_first is not None:
            self._on_first()

    @property
    def errors(self) -> list[PaymentsError]:
        return [error for _, _, error, _ in self.seen]
