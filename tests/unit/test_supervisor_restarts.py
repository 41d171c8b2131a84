"""The supervisor's restart backoff: doubling for a worker that keeps crashing, starting over
for one that had been running fine."""

from __future__ import annotations

import signal
import time

from queuectl.pool.supervisor import EXIT_STORE, RESTART_DELAY_MAX, STABLE_AFTER, Child, Supervisor

KILLED = signal.SIGKILL  # a wait status for "killed by SIGKILL" is the signal number itself


def delay_after_crash(sup: Supervisor, lived: float) -> float:
    child = Child(pid=1, pipe_w=-1, slot=0, worker_id="w-1",
                  started=time.monotonic() - lived)
    [(when, slot)] = sup._after_exit(child, KILLED)
    assert slot == 0
    return when - time.monotonic()


def test_backoff_doubles_then_caps_then_resets_after_a_stable_run() -> None:
    sup = Supervisor("unused", 1, [])
    delays = [delay_after_crash(sup, lived=0.1) for _ in range(10)]
    assert delays[1] > 1.9 * delays[0] > 0
    assert abs(delays[-1] - RESTART_DELAY_MAX) < 0.1
    assert delay_after_crash(sup, lived=STABLE_AFTER + 1) < 0.5  # back to the first step


def test_a_clean_exit_stops_the_pool() -> None:
    sup = Supervisor("unused", 2, [])
    assert sup._after_exit(Child(pid=1, pipe_w=-1, slot=0, worker_id="w-1"), 0) == []
    assert sup.stopping


def test_a_worker_that_cannot_open_the_store_is_restarted_after_a_pause() -> None:
    """The pool opened the store before it started: failing to now is an outage (a server
    restarting, a full disk), which ends; the worker must come back after it."""
    sup = Supervisor("unused", 1, [])
    status = EXIT_STORE << 8  # a wait status for "exited with EXIT_STORE"
    [(when, slot)] = sup._after_exit(Child(pid=1, pipe_w=-1, slot=0, worker_id="w-1"), status)
    assert slot == 0 and 0 < when - time.monotonic() <= RESTART_DELAY_MAX
    assert not sup.stopping
