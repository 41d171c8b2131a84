"""Queue metrics from the attempts history. Pure: rows in, figures out, no I/O.

The CLI (`queuectl metrics`), the dashboard charts and nothing else compute figures here,
so that they always agree. Which attempts count for what:

- ``completed``: attempts that exited 0;
- ``failed_attempts``: attempts that failed through the job's own doing or its host's
  (non-zero exit, killed, timed out, could not start, worker lost). Cancelled and
  interrupted attempts (a user's or an operator's decision) count for neither side;
- run durations: attempts that ran to an observed end, i.e. not ``not_started`` (never ran)
  and not ``worker_lost`` (its end is only when someone noticed);
- queue wait: from the moment the job was due (``run_at``) to the attempt's start.

Percentiles interpolate linearly between closest ranks (as numpy's default), so the p50
of [1, 2] is 1.5. Figures without data are None (null in JSON); counts are 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from queuectl.models import Outcome, iso
from queuectl.storage.base import AttemptRow

FAILED_OUTCOMES = frozenset({
    Outcome.FAILED, Outcome.KILLED, Outcome.TIMED_OUT, Outcome.NOT_STARTED, Outcome.WORKER_LOST,
})
# Attempts whose duration means nothing: never ran, or ended when someone noticed.
UNTIMED_OUTCOMES = frozenset({Outcome.NOT_STARTED, Outcome.WORKER_LOST})
DIGITS = 3  # seconds are shown to the millisecond


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of ``values`` by linear interpolation; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


@dataclass(frozen=True)
class Spread:
    """Summary of a set of durations in seconds (every figure None when there are none)."""

    count: int
    avg: float | None
    p50: float | None
    p95: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(len(values), mean(values), percentile(values, 50), percentile(values, 95),
                   max(values) if values else None)


@dataclass(frozen=True)
class WorkerFigures:
    id: str
    completed: int = 0
    failed_attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "completed": self.completed, "failed_attempts": self.failed_attempts}


@dataclass(frozen=True)
class Metrics:
    since: datetime
    until: datetime
    completed: int
    failed_attempts: int
    dead: int
    outcomes: dict[str, int]
    run: Spread
    wait: Spread
    workers: list[WorkerFigures] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return sum(self.outcomes.values())

    @property
    def success_rate(self) -> float | None:
        decided = self.completed + self.failed_attempts
        return self.completed / decided if decided else None

    @property
    def throughput_per_min(self) -> float | None:
        """Completed attempts per minute over the window; None for an empty window."""
        minutes = (self.until - self.since).total_seconds() / 60
        return self.completed / minutes if minutes > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The `metrics --json` document, with the fields and shapes docs/dashboard.md documents."""
        rate, throughput = self.success_rate, self.throughput_per_min
        return {
            "since": iso(self.since),
            "completed": self.completed,
            "failed_attempts": self.failed_attempts,
            "dead": self.dead,
            "success_rate": None if rate is None else round(rate, 4),
            "throughput_per_min": None if throughput is None else round(throughput, DIGITS),
            "run_seconds": {"avg": _round(self.run.avg), "p50": _round(self.run.p50),
                            "p95": _round(self.run.p95), "max": _round(self.run.max)},
            "wait_seconds": {"avg": _round(self.wait.avg), "p95": _round(self.wait.p95)},
            "workers": [w.to_dict() for w in self.workers],
        }


def _outcome(row: AttemptRow) -> Outcome | None:
    try:
        return Outcome(row.outcome) if row.outcome else None
    except ValueError:
        return None  # written by another version: counted in outcomes, nowhere else


def run_seconds(row: AttemptRow) -> float | None:
    """How long the attempt ran, or None when that is unknown or meaningless."""
    if row.finished_at is None or _outcome(row) in UNTIMED_OUTCOMES:
        return None
    return max(0.0, (row.finished_at - row.started_at).total_seconds())


def wait_seconds(row: AttemptRow) -> float | None:
    """From due to started; clamped at 0 (machines' clocks may differ slightly)."""
    if row.run_at is None:
        return None
    return max(0.0, (row.started_at - row.run_at).total_seconds())


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def compute(rows: Sequence[AttemptRow], dead: int, since: datetime, now: datetime) -> Metrics:
    """Figures for the attempts that ended in [since, now] (``rows``), ``dead`` jobs."""
    outcomes: dict[str, int] = {}
    per_worker: dict[str, list[int]] = {}
    for row in rows:
        outcomes[row.outcome or "unknown"] = outcomes.get(row.outcome or "unknown", 0) + 1
        ok, failed = _tally(row)
        if row.worker is not None and (ok or failed):
            counts = per_worker.setdefault(row.worker, [0, 0])
            counts[0] += ok
            counts[1] += failed
    return Metrics(
        since=since, until=now, dead=dead, outcomes=outcomes,
        completed=outcomes.get(Outcome.SUCCEEDED, 0),
        failed_attempts=sum(outcomes.get(o, 0) for o in FAILED_OUTCOMES),
        run=Spread.of(_present(run_seconds(r) for r in rows)),
        wait=Spread.of(_present(wait_seconds(r) for r in rows)),
        workers=[WorkerFigures(w, c[0], c[1]) for w, c in sorted(per_worker.items())],
    )


def _tally(row: AttemptRow) -> tuple[int, int]:
    """(1, 0) for a success, (0, 1) for a failure, (0, 0) for neither."""
    outcome = _outcome(row)
    return int(outcome is Outcome.SUCCEEDED), int(outcome in FAILED_OUTCOMES)


# --- time series for charts ----------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """Attempts that ended in [start, start + width)."""

    start: datetime
    completed: int
    failed: int
    run: Spread


def timeline(rows: Sequence[AttemptRow], since: datetime, now: datetime,
             buckets: int) -> list[Bucket]:
    """Split [since, now] into ``buckets`` equal slices and summarise each one."""
    if buckets < 1 or now <= since:
        return []
    width = (now - since) / buckets
    slots: list[list[AttemptRow]] = [[] for _ in range(buckets)]
    for row in rows:
        if row.finished_at is None or not since <= row.finished_at <= now:
            continue
        index = min(buckets - 1, int((row.finished_at - since) / width))
        slots[index].append(row)
    return [_bucket(since + width * i, slot) for i, slot in enumerate(slots)]


def _bucket(start: datetime, rows: list[AttemptRow]) -> Bucket:
    tallies = [_tally(r) for r in rows]
    return Bucket(start, sum(t[0] for t in tallies), sum(t[1] for t in tallies),
                  Spread.of(_present(run_seconds(r) for r in rows)))


def window(now: datetime, seconds: float) -> datetime:
    """The start of a window of ``seconds`` ending now."""
    return now - timedelta(seconds=seconds)
