"""How far a pool has been asked to stop: the level the supervisor and its workers share.

A level only rises. The supervisor relays the level it has reached to each worker over a
pipe, one digit per level reached, and a worker takes the highest it has heard of (its own
signals, the supervisor, the store's `worker stop`).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import IntEnum


class StopLevel(IntEnum):
    NONE = 0  # work on
    GRACEFUL = 1  # finish the current job, then exit
    ABORT = 2  # kill the running job's process group and hand the job back for retry

    @classmethod
    def reached(cls, requests: int) -> StopLevel:
        """The level ``requests`` stop requests (signals, or a level heard of) amount to:
        the first asks for a graceful stop, any after it for an abort."""
        return cls(min(max(requests, cls.NONE), cls.ABORT))


@dataclass
class StopSignals:
    """The stop signals one process has received, counted as stop requests.

    A hang-up (SIGHUP: the terminal of a foreground pool closed) asks for a graceful stop
    however many times it comes: a closing terminal hangs up the whole foreground process
    group, and the shell that owned it sends its own SIGHUP on top, a moment later or not
    at all. Counted as two, the second would kill the running jobs. Nor does a hang-up
    count towards an abort: a session that ends sends SIGTERM after it (logind, a terminal
    multiplexer), and that is its first request, not a second. Only a second Ctrl-C
    (SIGINT) or SIGTERM asks for more."""

    hung_up: bool = False
    interrupts: int = 0  # SIGINT and SIGTERM received
    aborted_by: int = 0  # the signal number that asked for the abort; 0 while none did

    def heard(self, signum: int) -> None:
        """Count ``signum`` (SIGINT, SIGTERM or SIGHUP). Safe in a signal handler."""
        if signum == signal.SIGHUP:
            self.hung_up = True
            return
        self.interrupts += 1
        if self.interrupts == StopLevel.ABORT:
            self.aborted_by = signum

    @property
    def requests(self) -> int:
        return max(self.interrupts, int(self.hung_up))

    @property
    def level(self) -> StopLevel:
        # Read once per job by the worker; nearly always nothing was heard, and building
        # the enum member from a count costs ~1 µs.
        if not self.interrupts and not self.hung_up:
            return StopLevel.NONE
        return StopLevel.reached(self.requests)

    def exit_code(self) -> int:
        """What a shell reports for a command its signal interrupted (128 + the signal that
        asked for the abort, 130 for a second Ctrl-C); 0 when the stop was graceful."""
        return 128 + self.aborted_by if self.aborted_by else 0
