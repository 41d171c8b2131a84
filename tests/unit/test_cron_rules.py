"""The rules by which a schedule left unattended is judged: overdue, and (below) suspect
successes. Pure functions."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from queuectl.recurring import is_overdue, suspect_reason, tick_of

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_overdue_counts_from_the_last_successs_tick_or_else_the_creation() -> None:
    day = 26 * 3600.0
    created = T0 - timedelta(days=30)
    assert not is_overdue(day, T0, created, T0 + timedelta(hours=26))
    assert is_overdue(day, T0, created, T0 + timedelta(hours=26, milliseconds=1))
    assert is_overdue(day, None, created, T0)  # never succeeded in 30 days
    assert not is_overdue(day, None, T0, T0 + timedelta(hours=1))  # new: not yet
    assert not is_overdue(None, None, created, T0)  # no --alert-after: never


@given(st.floats(1, 10**7), st.integers(0, 10**8))
def test_overdue_is_exactly_past_the_alert_after(alert_s: float, age_ms: int) -> None:
    now = T0 + timedelta(milliseconds=age_ms)
    assert is_overdue(alert_s, T0, None, now) == (age_ms / 1000 > alert_s)


def test_a_jobs_tick_is_read_from_its_id() -> None:
    assert tick_of("backup@2026-12-01T02:00:00.000Z", "backup") == T0
    assert tick_of("a@run-x1y2", "a") is None
    assert tick_of("other@2026-12-01T02:00:00.000Z", "a") is None


# --- suspect successes ---------------------------------------------------------------------

USUAL = [(52.0, 50_000)] * 5  # five runs of 52 s printing ~49 KiB


def test_a_run_under_a_tenth_of_the_usual_time_is_suspect() -> None:
    assert suspect_reason(0.4, 50_000, USUAL) == "ran 0.4s, usually 52s"
    assert suspect_reason(5.2, 50_000, USUAL) is None  # a tenth exactly: not under it
    assert suspect_reason(5.1, 50_000, USUAL) == "ran 5.1s, usually 52s"


def test_a_run_under_a_tenth_of_the_usual_output_is_suspect_when_that_is_1_kib() -> None:
    assert suspect_reason(52, 120, USUAL) == "printed 120 B, usually 48.8 KiB"
    assert suspect_reason(52, 5000, USUAL) is None
    small = [(52.0, 1000)] * 5  # usually under 1 KiB: output says nothing
    assert suspect_reason(52, 0, small) is None
    assert suspect_reason(52, 0, [(52.0, 1024)] * 5) == "printed 0 B, usually 1.0 KiB"


def test_fewer_than_five_previous_runs_say_nothing() -> None:
    assert suspect_reason(0.0, 0, USUAL[:4]) is None
    assert suspect_reason(0.0, 0, []) is None


def test_only_the_last_twenty_runs_count() -> None:
    old = [(1.0, 0)] * 100  # once short and quiet, then 20 long runs
    assert suspect_reason(4.0, 0, old + [(60.0, 0)] * 20) == "ran 4s, usually 1m"
    assert suspect_reason(4.0, 0, old + [(60.0, 0)] * 10) is None  # median of 20: 30.5s


runs = st.lists(st.tuples(st.floats(0, 10**5), st.integers(0, 10**8)), max_size=40)


@given(runs, st.floats(0, 10**5), st.integers(0, 10**8), st.floats(1, 100))
def test_suspect_is_a_rule_of_the_median_only(history: list[tuple[float, int]], run_s: float,
                                              out: int, longer: float) -> None:
    """Never before five runs; never for a run at least as long and loud as the median's
    tenth; and a longer, louder run is never more suspect than a shorter, quieter one."""
    reason = suspect_reason(run_s, out, history)
    recent = history[-20:]
    if len(recent) < 5:
        assert reason is None
        return
    med_s = statistics.median(s for s, _ in recent)
    med_b = statistics.median(b for _, b in recent)
    if run_s * 10 >= med_s and (med_b < 1024 or out * 10 >= med_b):
        assert reason is None
    else:
        assert reason is not None
    if reason is None:
        assert suspect_reason(run_s * longer, int(out * longer), history) is None
