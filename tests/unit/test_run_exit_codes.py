"""`queuectl run` exits with an attempt's end as a shell would report the command's."""

from __future__ import annotations

import signal

import pytest

from queuectl.cli.run_cmd import exit_code
from queuectl.models import Attempt, Outcome, utcnow


def attempt(outcome: Outcome, code: int | None = None, error: str | None = None) -> Attempt:
    now = utcnow()
    return Attempt("j", 1, "w", now, now, code, outcome, error)


@pytest.mark.parametrize(("ended", "code"), [
    (attempt(Outcome.SUCCEEDED, 0), 0),
    (attempt(Outcome.FAILED, 3, "exit code 3"), 3),
    (attempt(Outcome.KILLED, None, "killed by signal SIGTERM"), 128 + signal.SIGTERM),
    (attempt(Outcome.KILLED, None, "killed by signal SIGSEGV"), 128 + signal.SIGSEGV),
    (attempt(Outcome.KILLED, None, "killed by signal 77"), 128 + 77),
    (attempt(Outcome.KILLED, None, "killed: the worker could not watch it (x)"), 137),
    (attempt(Outcome.TIMED_OUT, None, "timed out after 5s"), 124),
    (attempt(Outcome.NOT_STARTED, None, "cannot start: no such directory"), 1),
    (attempt(Outcome.WORKER_LOST, None, "worker lost"), 1),
])
def test_exit_code(ended: Attempt, code: int) -> None:
    assert exit_code(ended) == code
