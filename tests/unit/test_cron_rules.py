"""The rules by which a schedule left unattended is judged: overdue, and (below) suspect
successes. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from queuectl.recurring import is_overdue, tick_of

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
