"""Small statistics helpers (medians and percentiles without numpy)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def epoch(iso: str) -> float:
    """'2026-11-22T14:03:07.123Z' -> seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def rnd(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
