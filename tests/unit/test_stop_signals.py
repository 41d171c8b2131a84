"""Stop signals counted as stop requests: a hang-up is one graceful stop however often it
comes; a second Ctrl-C or SIGTERM aborts, and says so in the exit code as a shell would."""

from __future__ import annotations

import signal

from hypothesis import given
from hypothesis import strategies as st

from queuectl.pool.stop import StopLevel, StopSignals

HUP, INT, TERM = signal.SIGHUP, signal.SIGINT, signal.SIGTERM


def heard(*signums: int) -> StopSignals:
    counted = StopSignals()
    for signum in signums:
        counted.heard(signum)
    return counted


@given(st.integers(min_value=1, max_value=20))
def test_any_number_of_hang_ups_is_one_graceful_stop(times: int) -> None:
    counted = heard(*[HUP] * times)
    assert (counted.level, counted.exit_code()) == (StopLevel.GRACEFUL, 0)


def test_a_hang_up_after_a_ctrl_c_asks_for_nothing_more() -> None:
    assert heard(INT, HUP, HUP).level is StopLevel.GRACEFUL


def test_a_second_ctrl_c_or_sigterm_aborts_with_a_shells_exit_code() -> None:
    assert (heard(INT, INT).level, heard(INT, INT).exit_code()) == (StopLevel.ABORT, 130)
    assert heard(TERM, TERM).exit_code() == 143
    assert heard(INT, TERM).exit_code() == 143  # the signal that asked for the abort
    assert heard(HUP, TERM, HUP, TERM).exit_code() == 143  # hang-ups, then two real stops


@given(st.lists(st.just(HUP), max_size=5), st.sampled_from([INT, TERM]))
def test_the_first_ctrl_c_or_sigterm_after_a_hang_up_is_still_graceful(
    hang_ups: list[int], signum: int
) -> None:
    """A session that ends hangs up, then sends SIGTERM: that is one request, not two."""
    counted = heard(*hang_ups, HUP, signum)
    assert (counted.level, counted.exit_code()) == (StopLevel.GRACEFUL, 0)


def test_one_stop_request_exits_0() -> None:
    assert heard(INT).exit_code() == heard(TERM).exit_code() == StopSignals().exit_code() == 0
