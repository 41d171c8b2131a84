"""A clock the tests move on, for the store and the worker alike: time passes without
sleeping (a lease, a backoff, a schedule), and everything reads the same moved time.

The store is opened with ``clock=`` (SQLite reads it for every "now"; PostgreSQL is told it
before each call), and a worker is given the matching ``Clocks``: its watching of the store
(which says when it may judge silence) and the boot clock against which a step of the
store's clock is told move by as much, so a move is never taken for a step and undone."""

from __future__ import annotations

import time

from queuectl.pool.clocks import Clocks
from queuectl.pool.recovery import boot_clock_ms


class MovingClock:
    """Real time plus how far the test moved it (seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def move(self, seconds: float) -> None:
        """Move every clock of the store and the worker on by ``seconds``."""
        self.offset += seconds

    def now(self) -> float:
        """The store's "now", epoch seconds."""
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def boot_ms(self) -> int:
        return boot_clock_ms() + int(self.offset * 1000)

    @property
    def clocks(self) -> Clocks:
        """The worker's clocks, moved with this one."""
        return Clocks(monotonic=self.monotonic, boot_ms=self.boot_ms)
