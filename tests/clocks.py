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
    """Real time plus how far the test moved it (seconds); or, once frozen, only what the
    test moved it by."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._frozen: tuple[float, float, int] | None = None  # time, monotonic, boot ms

    def move(self, seconds: float) -> None:
        """Move every clock of the store and the worker on by ``seconds``."""
        self.offset += seconds

    def freeze(self) -> None:
        """From now on time passes only when the test moves it: a test that stops just
        short of a due time stays that short however long the machine takes meanwhile (on
        a loaded machine real time passing between two steps reached a 0.1 s margin)."""
        self._frozen = (time.time(), time.monotonic(), boot_clock_ms())

    def now(self) -> float:
        """The store's "now", epoch seconds."""
        return (self._frozen[0] if self._frozen else time.time()) + self.offset

    def monotonic(self) -> float:
        return (self._frozen[1] if self._frozen else time.monotonic()) + self.offset

    def boot_ms(self) -> int:
        return (self._frozen[2] if self._frozen else boot_clock_ms()) + int(self.offset * 1000)

    @property
    def clocks(self) -> Clocks:
        """The worker's clocks, moved with this one."""
        return Clocks(monotonic=self.monotonic, boot_ms=self.boot_ms)
