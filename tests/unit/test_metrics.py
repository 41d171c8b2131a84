"""The pure metrics computation: figures from attempt rows, and the JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from queuectl.metrics import compute, percentile, timeline
from queuectl.models import Outcome
from queuectl.storage.base import AttemptRow

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=1)
CONTRACT_KEYS = {"since", "completed", "failed_attempts", "dead", "success_rate",
             "throughput_per_min", "run_seconds", "wait_seconds", "workers"}


def row(outcome: str, ran: float = 1.0, waited: float | None = 0.0, worker: str | None = "w1",
        end: datetime = NOW) -> AttemptRow:
    started = end - timedelta(seconds=ran)
    due = None if waited is None else started - timedelta(seconds=waited)
    return AttemptRow("job", worker, outcome, started, end, due)


def test_empty_window_gives_zero_counts_and_null_figures() -> None:
    doc = compute([], 0, SINCE, NOW).to_dict()
    assert set(doc) == CONTRACT_KEYS
    assert doc["since"] == "2026-11-22T13:00:00.000Z"
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (0, 0, 0)
    assert doc["success_rate"] is None
    assert doc["throughput_per_min"] == 0.0
    assert doc["run_seconds"] == {"avg": None, "p50": None, "p95": None, "max": None}
    assert doc["wait_seconds"] == {"avg": None, "p95": None}
    assert doc["workers"] == []


def test_counts_rates_and_durations() -> None:
    rows = [row("succeeded", 1.0, 2.0), row("succeeded", 3.0, 4.0, worker="w2"),
            row("failed", 5.0, 0.0), row("timed_out", 7.0, 0.0, worker="w2")]
    doc = compute(rows, 1, SINCE, NOW).to_dict()
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (2, 2, 1)
    assert doc["success_rate"] == 0.5
    assert doc["throughput_per_min"] == round(2 / 60, 3)
    assert doc["run_seconds"] == {"avg": 4.0, "p50": 4.0, "p95": 6.7, "max": 7.0}
    assert doc["wait_seconds"] == {"avg": 1.5, "p95": 3.7}
    assert doc["workers"] == [{"id": "w1", "completed": 1, "failed_attempts": 1},
                              {"id": "w2", "completed": 1, "failed_attempts": 1}]


def test_cancelled_and_interrupted_count_for_neither_side() -> None:
    rows = [row("succeeded"), row("cancelled"), row("interrupted")]
    m = compute(rows, 0, SINCE, NOW)
    assert (m.completed, m.failed_attempts, m.success_rate) == (1, 0, 1.0)
    assert m.outcomes == {"succeeded": 1, "cancelled": 1, "interrupted": 1}


def test_lost_and_unstarted_attempts_fail_but_have_no_run_time() -> None:
    m = compute([row("worker_lost", 30.0), row("not_started", 0.0)], 0, SINCE, NOW)
    assert m.failed_attempts == 2
    assert m.run.count == 0 and m.to_dict()["run_seconds"]["max"] is None


def test_wait_is_never_negative_and_skips_rows_without_run_at() -> None:
    m = compute([row("succeeded", waited=-5.0), row("succeeded", waited=None)], 0, SINCE, NOW)
    assert m.wait.count == 1 and m.wait.max == 0.0


def test_empty_window_has_no_throughput() -> None:
    assert compute([], 0, NOW, NOW).to_dict()["throughput_per_min"] is None


def test_timeline_puts_each_attempt_in_its_slice() -> None:
    rows = [row("succeeded", end=SINCE + timedelta(minutes=1, seconds=5)),
            row("failed", end=SINCE + timedelta(minutes=1, seconds=50)),
            row("succeeded", end=NOW)]
    buckets = timeline(rows, SINCE, NOW, 60)
    assert len(buckets) == 60
    assert (buckets[1].completed, buckets[1].failed) == (1, 1)
    assert buckets[-1].completed == 1  # the very end falls in the last slice
    assert sum(b.completed + b.failed for b in buckets) == 3


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=50), st.floats(min_value=0, max_value=100))
def test_percentile_lies_within_the_data_and_grows_with_q(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert p is not None
    assert min(values) <= p <= max(values) or abs(p - min(values)) < 1e-6
    assert percentile(values, 0) == min(values) and percentile(values, 100) == max(values)
    higher = percentile(values, min(100.0, q + 10))
    assert higher is not None and higher >= p - 1e-6


outcomes = st.sampled_from([str(o) for o in Outcome])


@given(st.lists(st.tuples(outcomes, finite, st.sampled_from(["a", "b", None])), max_size=40),
       st.integers(0, 100))
def test_figures_are_consistent(entries: list[tuple[str, float, str | None]], dead: int) -> None:
    rows = [row(o, ran=min(ran, 3000.0), worker=w) for o, ran, w in entries]
    doc = compute(rows, dead, SINCE, NOW).to_dict()
    assert set(doc) == CONTRACT_KEYS and doc["dead"] == dead
    assert doc["completed"] + doc["failed_attempts"] <= len(rows)
    rate = doc["success_rate"]
    assert rate is None or 0.0 <= rate <= 1.0
    assert sum(w["completed"] for w in doc["workers"]) <= doc["completed"]
    run = doc["run_seconds"]
    if run["avg"] is not None:
        assert run["p50"] <= run["p95"] <= run["max"]
    assert [w["id"] for w in doc["workers"]] == sorted(w["id"] for w in doc["workers"])
