"""The overview charts' axes: round ticks with units, clock times, bars on the same scale."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.metrics import Bucket, Spread
from queuectl.web import charts

NOW = datetime(2026, 11, 22, 14, 7, 31, tzinfo=UTC)
HOUR_AGO = NOW - timedelta(hours=1)


@pytest.fixture(autouse=True)
def _utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clock labels are the server's local time: make that UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def labels(axis: charts.Axis) -> list[str]:
    return [tick.label for tick in axis.ticks]


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, ["0", "1"]), (1, ["0", "1"]), (3, ["0", "1", "2", "3"]), (6, ["0", "2", "4", "6"]),
     (7, ["0", "2", "4", "6", "8"]), (99, ["0", "50", "100"]),
     (1234, ["0", "500", "1000", "1500"])],
)
def test_count_axis_has_round_whole_ticks(peak: int, ticks: list[str]) -> None:
    axis = charts.value_axis(peak, "attempts per min", whole=True)
    assert labels(axis) == ticks
    assert axis.top == float(ticks[-1])


@given(st.floats(1e-3, 1e9))
def test_value_axis_reaches_the_top_in_a_few_even_steps(peak: float) -> None:
    axis = charts.value_axis(peak, "x")
    assert axis.top >= peak * (1 - 1e-9)
    assert 3 <= len(axis.ticks) <= 5
    assert axis.ticks[0] == charts.Tick(0.0, "0") and axis.ticks[-1].at == 1.0
    values = [float(t.label) for t in axis.ticks]
    steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert len({round(s / values[1], 6) for s in steps}) == 1  # evenly spaced
    assert all("e" not in t.label for t in axis.ticks)  # 1000000, never 1e+06


@pytest.mark.parametrize(
    ("seconds", "unit", "ticks"),
    [(0.3, "s", ["0", "0.1", "0.2", "0.3"]), (57, "s", ["0", "20", "40", "60"]),
     (150, "min", ["0", "1", "2", "3"]), (9000, "h", ["0", "1", "2", "3"])],
)
def test_duration_axis_reads_in_a_fitting_unit(seconds: float, unit: str,
                                               ticks: list[str]) -> None:
    size, name = charts.duration_unit(seconds)
    assert name == unit
    axis = charts.value_axis(seconds, f"run time ({name})", size)
    assert labels(axis) == ticks
    assert axis.top == pytest.approx(float(ticks[-1]) * size)


def test_time_axis_marks_round_clock_times_and_now() -> None:
    axis = charts.time_axis(HOUR_AGO, NOW)
    assert axis.label == "time (UTC)"
    assert labels(axis) == ["13:15", "13:30", "13:45", "14:00", "now"]
    first = (datetime(2026, 11, 22, 13, 15, tzinfo=UTC) - HOUR_AGO) / timedelta(hours=1)
    assert axis.ticks[0].at == pytest.approx(first)
    assert axis.ticks[-1].at == 1.0


def test_time_axis_leaves_room_for_now() -> None:
    now = NOW.replace(minute=2)  # 14:00 would sit right against "now"
    assert labels(charts.time_axis(now - timedelta(hours=1), now)) == [
        "13:15", "13:30", "13:45", "now"]


def _bucket(minute: int, completed: int, failed: int, runs: list[float]) -> Bucket:
    return Bucket(HOUR_AGO + timedelta(minutes=minute), completed, failed, Spread.of(runs))


def test_bars_share_the_scale_of_the_value_axis() -> None:
    buckets = [_bucket(i, 0, 0, []) for i in range(60)]
    buckets[10] = _bucket(10, 5, 2, [])  # 7 attempts: the axis runs to 8
    chart = charts.throughput(buckets, HOUR_AGO, NOW)
    assert chart.y.label == "attempts per min" and chart.y.top == 8
    ok, failed = chart.bars
    assert ok.h == pytest.approx(charts.HEIGHT * 5 / 8)
    assert failed.h == pytest.approx(charts.HEIGHT * 2 / 8)
    assert failed.y + failed.h == pytest.approx(ok.y)  # stacked on top
    assert ok.x == pytest.approx(charts.WIDTH * 10 / 60)


def test_run_time_chart_says_its_unit() -> None:
    buckets = [_bucket(i * 5, 1, 0, [30.0, 150.0]) for i in range(12)]
    chart = charts.latency(buckets, HOUR_AGO, NOW)
    assert chart.y.label == "run time (min)"
    assert labels(chart.x)[-1] == "now"
    assert not chart.empty
