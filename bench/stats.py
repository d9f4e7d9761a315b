"""Latency percentiles, and the merging of what the client processes measured."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (a value that was observed); NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """Count and p50/p95/p99 in milliseconds (None without values)."""
    summary: dict[str, float | None] = {"n": len(seconds)}
    for p in (50, 95, 99):
        summary[f"p{p}_ms"] = percentile(seconds, p) * 1000 if seconds else None
    return summary


@dataclass
class Sample:
    """What one client process saw in one phase. Latencies (seconds) are those of calls and
    lifecycles that completed inside the measured window; errors are counted all phase long,
    warm-up included, as "RPC STATUS_CODE"."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    failed_lifecycles: int = 0

    def record(self, name: str, seconds: float) -> None:
        self.latencies.setdefault(name, []).append(seconds)


def merge(samples: Iterable[Sample]) -> Sample:
    merged = Sample()
    for sample in samples:
        for name, values in sample.latencies.items():
            merged.latencies.setdefault(name, []).extend(values)
        merged.errors.update(sample.errors)
        merged.failed_lifecycles += sample.failed_lifecycles
    return merged


def spread(total: int, buckets: int) -> list[int]:
    """`total` clients over `buckets` processes, as evenly as possible."""
    return [total // buckets + (1 if i < total % buckets else 0) for i in range(buckets)]
