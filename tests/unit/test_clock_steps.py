"""What counts as a step of the store's clock, and which stamps a step moves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from queuectl.settings import Config
from queuectl.specs import build_spec
from queuectl.storage.clock_steps import (
    REFRESH_MS,
    Reading,
    shift,
    step_ms,
    tolerance_ms,
    worth_writing,
)

HOUR_MS = 3_600_000
LAST = Reading(store_ms=1_800_000_000_000, boot_ms=500_000)


def later(elapsed_ms: int, step: int = 0) -> Reading:
    return Reading(LAST.store_ms + elapsed_ms + step, LAST.boot_ms + elapsed_ms)


@given(st.integers(0, 30 * 86_400_000), st.integers(-2_000, 2_000))
def test_drift_within_what_ntp_slews_is_no_step(elapsed: int, slew_per_day: int) -> None:
    # NTP slews at most 500 ppm: 43 s a day.
    drift = elapsed * slew_per_day // 4_000_000
    assert step_ms(LAST, later(elapsed, drift)) == 0


@given(st.integers(0, 60_000), st.sampled_from([-HOUR_MS, -5_000, 5_000, HOUR_MS]))
def test_a_step_is_found_whole(elapsed: int, step: int) -> None:
    assert step_ms(LAST, later(elapsed, step)) == step


def test_a_suspend_is_no_step() -> None:
    # The boot-time clock counts the time suspended, as the wall clock does.
    assert step_ms(LAST, later(8 * HOUR_MS)) == 0


def test_readings_that_cannot_be_of_one_boot_are_not_compared() -> None:
    assert step_ms(LAST, Reading(LAST.store_ms + HOUR_MS, LAST.boot_ms - 1)) == 0


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.booleans())
def test_stamps_of_either_clock_are_told_apart(elapsed: int, at: int, forward: bool) -> None:
    # A step at ``at`` ms after the last reading (within the elapsed time); a stamp written
    # before it is of the old clock, one written after it of the new.
    at = min(at, elapsed)
    step = HOUR_MS if forward else -HOUR_MS
    found = shift(LAST, later(elapsed, step))
    assert found is not None and found.step_ms == step
    assert found.moves(LAST.store_ms + at)  # written just before the step
    assert found.moves(LAST.store_ms - 10 * HOUR_MS)  # long before
    assert not found.moves(LAST.store_ms + at + step)  # just after it
    assert not found.moves(LAST.store_ms + elapsed + step)  # now


def test_no_shift_without_a_step() -> None:
    assert shift(LAST, later(5_000)) is None


def test_the_reading_is_written_when_new_stale_or_stepped() -> None:
    assert worth_writing(None, LAST)
    assert not worth_writing(LAST, later(REFRESH_MS - 1))
    assert worth_writing(LAST, later(REFRESH_MS))
    assert worth_writing(LAST, later(1_000, -HOUR_MS))


def test_tolerance_grows_with_elapsed_time() -> None:
    assert tolerance_ms(0) < tolerance_ms(86_400_000)


def test_only_a_run_at_given_as_a_time_is_a_wall_clock_time() -> None:
    config = Config.from_stored({})
    fixed = build_spec({"command": "true", "run_at": "2030-01-01T09:00:00Z"}, config, "/")
    delayed = build_spec({"command": "true", "delay": "10m"}, config, "/")
    now = build_spec({"command": "true"}, config, "/")
    assert (fixed.run_at_fixed, delayed.run_at_fixed, now.run_at_fixed) == (True, False, False)
