"""Percentiles and medians of latency samples, the way the report states them."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None when there are no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float | None:
    return percentile(samples, 50.0)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/max of samples given in seconds, reported in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50": _round(percentile(ms, 50)),
        "p90": _round(percentile(ms, 90)),
        "p99": _round(percentile(ms, 99)),
        "max": _round(max(ms) if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
