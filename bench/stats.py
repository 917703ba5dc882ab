"""Pure arithmetic of the benchmark: percentiles, ratios, rates over time, memory trends, goals.

Kept free of I/O so that tests/bench can check it without starting anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks; None when empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max/mean of latencies given in seconds, reported in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 2)

    return {
        "n": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
        "mean_ms": ms(sum(seconds) / len(seconds) if seconds else None),
    }


def ratio(measured: float | None, floor: float | None) -> float | None:
    """measured / floor, rounded; None when either is missing or the floor is zero."""
    if measured is None or floor is None or floor <= 0:
        return None
    return round(measured / floor, 3)


def rate(count: int, seconds: float) -> float | None:
    """Events per second; None for an empty window."""
    if seconds <= 0:
        return None
    return round(count / seconds, 2)


def per_second(timestamps: Iterable[float], start: float, end: float) -> list[int]:
    """How many of ``timestamps`` fell in each whole second of [start, end)."""
    size = max(0, math.ceil(end - start))
    buckets = [0] * size
    for t in timestamps:
        index = int(t - start)
        if 0 <= index < size:
            buckets[index] += 1
    return buckets


def sustained_rate(timestamps: Sequence[float], trim: float = 0.05) -> float | None:
    """Completions per second between the first and last completion, trimming ramp-up and tail.

    With a backlog in the queue the workers run flat out, so this is their capacity; ``trim``
    drops that share of completions at each end, where a few stragglers would stretch the window.
    """
    if len(timestamps) < 10:
        return None
    ordered = sorted(timestamps)
    cut = int(len(ordered) * trim)
    window = ordered[cut : len(ordered) - cut] if cut else ordered
    span = window[-1] - window[0]
    return rate(len(window) - 1, span)


def linear_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (x, y) points; None with fewer than two distinct x."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(p[0] for p in points) / n
    mean_y = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mean_x) ** 2 for p in points)
    if sxx == 0:
        return None
    sxy = sum((p[0] - mean_x) * (p[1] - mean_y) for p in points)
    return sxy / sxx


def memory_trend(samples: Sequence[tuple[float, float]]) -> dict[str, float | None]:
    """RSS samples (seconds, MB) -> start, end, max and growth in MB per minute.

    The slope is fitted on the second half only: the first minutes include imports, pools
    filling and caches warming, which is growth a process does once, not a leak.
    """
    if not samples:
        return {"start_mb": None, "end_mb": None, "max_mb": None, "slope_mb_per_min": None}
    half = list(samples[len(samples) // 2 :])
    slope = linear_slope(half)
    return {
        "start_mb": round(samples[0][1], 1),
        "end_mb": round(samples[-1][1], 1),
        "max_mb": round(max(s[1] for s in samples), 1),
        "slope_mb_per_min": None if slope is None else round(slope * 60.0, 3),
    }


# Goals from the issue: (key, description, comparison, target).
GOALS: tuple[tuple[str, str, str, float], ...] = (
    ("ack_ratio", "ack throughput / bare-Flask floor", ">=", 0.7),
    ("e2e_ratio", "end-to-end inbound msg/s / no-op-job floor", ">=", 0.5),
    ("ack_p99_ms_at_100", "ack p99 at 100 msg/s (ms)", "<=", 100.0),
    ("reply_p95_ms_at_50", "inbound-to-reply p95 at 50 msg/s, provider 200 ms (ms)", "<=", 1000.0),
    ("errors", "errors and lost messages at the fixed rates", "<=", 0.0),
    ("memory_slope_mb_per_min", "web + worker RSS growth, second half of the run (MB/min)", "<=", 1.0),
)


def evaluate_goals(measured: dict[str, float | None]) -> list[dict[str, Any]]:
    """Each goal with its measured value and whether it is met (None: not measured)."""
    out = []
    for key, description, op, target in GOALS:
        value = measured.get(key)
        if value is None:
            met = None
        elif op == ">=":
            met = value >= target
        else:
            met = value <= target
        out.append(
            {
                "goal": key,
                "description": description,
                "target": f"{op} {target:g}",
                "value": value,
                "met": met,
            }
        )
    return out
