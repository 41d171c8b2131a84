"""The supervisor's checkpoint pacing: about every 1,000 pages, within [0.25 s, 2 s]."""

from __future__ import annotations

from queuectl.pool.checkpointer import IDLE_CHECK, LATEST, SOONEST, next_pause


def test_nothing_written_means_a_look_a_second() -> None:
    assert next_pause(0, 5.0) == IDLE_CHECK


def test_a_burst_is_checkpointed_at_most_four_times_a_second() -> None:
    assert next_pause(4000, 0.25) == SOONEST  # 16,000 pages/s would want 1/16 s


def test_a_trickle_waits_for_about_a_thousand_pages_up_to_two_seconds() -> None:
    assert next_pause(500, 0.5) == 1.0  # 1,000 pages/s: the next thousand in a second
    assert next_pause(10, 1.0) == LATEST  # 10 pages/s: not 100 s, two
