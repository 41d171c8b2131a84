"""Wake-ups per pool, not per worker: the supervisor listens, its workers hear it over a pipe.

Each wake-up the store sends (an enqueue, a retry due, a place freed in a limited queue)
used to reach every idle worker, or one that the sender picked by reading the store: each
woken worker then asked the store, and on PostgreSQL each worker held a LISTEN connection
of its own. Here the supervisor holds the pool's one ear on the store (the store's
WakeSource, storage/base.py: SQLite's datagrams to its workers' addresses, PostgreSQL's one
LISTEN connection, re-opened after a loss) and relays what it hears over the pipe each
worker already reads its stop level from (pool/stop.py):

- "work": ONE idle worker is woken (a byte ``w``). A woken worker that then claims a job
  says so (a byte on the shared ``more`` pipe) and the supervisor wakes the next idle one:
  a burst of N ready jobs fans out to N workers one claim at a time, and a single job costs
  one claim that finds nothing beyond its own, whatever the pool's size. (A pool serves
  one set of queues: this is the one place that wakes one idle worker per set of queues.)
- "stop" (``s``) and "cancel" (``c``): every worker, which then checks in with the store
  (only the store says which worker is meant); "config" (``g``): every worker, which reads
  the config again before its next job.

Which workers are idle is a byte per worker in memory shared across fork, set by the
worker just before it sleeps and cleared when it wakes: no system call, no message. A
worker caught between its last check of the store and its sleep reads as not idle; a
"work" that finds no idle worker is therefore sent to every worker not running a job, so
that one who was about to sleep re-checks at once instead of sleeping past the job.

Every wake-up is a hint: a relay that is missed (a full pipe, a worker that just died)
delays a job until the worker's next poll (worker.IDLE_POLL), never loses it.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import time
from collections.abc import Callable, Sequence

from queuectl.errors import StoreUnavailable
from queuectl.storage.base import WakeSource

WORK = b"w"
STOP = b"s"
CANCEL = b"c"
CONFIG = b"g"
# The byte a worker reads: the event.
EVENTS = {"w": "work", "s": "stop", "c": "cancel", "g": "config"}

# Seconds between attempts to listen again after a failure, doubling while they fail up to
# REVIVE_MAX: a connect to an unreachable host blocks the supervisor's loop for up to its
# timeout, and that loop also relays stop requests.
REVIVE_EVERY = 1.0
REVIVE_MAX = 8.0

log = logging.getLogger("queuectl.relay")


class IdleBoard:
    """Two bytes per worker slot, shared across fork: 1 while the worker sleeps idle; and
    1 while a ``w`` sent to it may be unread. The pipes' write ends block (a stop level must
    never be dropped), so a worker that does not read its pipe (stopped, or stuck in a
    store call) must not be sent "work" after "work" until the pipe fills: one unread is
    enough to wake it."""

    def __init__(self, count: int) -> None:
        self._map = mmap.mmap(-1, 2 * max(count, 1))
        self.count = count

    def setter(self, slot: int) -> Callable[[bool], None]:
        """The worker's side: ``idle(True)`` before its sleep, ``idle(False)`` after."""
        def idle(flag: bool) -> None:
            self._map[slot] = 1 if flag else 0

        return idle

    def reader(self, slot: int) -> Callable[[], None]:
        """The worker's side, called once it has read its pipe: what was sent is read.
        (Read, then marked: a "work" sent in between is sent once more, never lost.)"""
        def read() -> None:
            self._map[self.count + slot] = 0

        return read

    def mark_sent(self, slot: int) -> bool:
        """Before a ``w`` to ``slot``: whether to send it (False: one is still unread)."""
        at = self.count + slot
        if self._map[at]:
            return False
        self._map[at] = 1
        return True

    def take(self, slots: Sequence[int]) -> int | None:
        """An idle slot among ``slots``, marked no longer idle (it is being woken), or None."""
        for slot in slots:
            if self._map[slot]:
                self._map[slot] = 0
                return slot
        return None

    def clear(self, slot: int) -> None:
        """A dead worker is not idle, and its successor has read nothing yet."""
        self._map[slot] = 0
        self._map[self.count + slot] = 0


class PoolListener:
    """The store's WakeSource, asked again after a failure no sooner than its backoff
    says. That the pool cannot listen yet is said once, not once a second; a loss once it
    listened is the workers' to say (their store calls meet the same outage)."""

    def __init__(self, source: WakeSource) -> None:
        self.source = source
        self.failed_once = False
        self._listened = False  # the source has worked once
        self._failures = 0
        self._next_try = 0.0  # monotonic

    def fds(self) -> list[int]:
        """The descriptors to select on ([] while the store cannot be listened to: the
        workers' polls stand in)."""
        if self._failures and time.monotonic() < self._next_try:
            return []
        try:
            fds = self.source.fds()
        except StoreUnavailable as exc:
            if not self.failed_once and not self._listened:
                log.warning("cannot listen for wake-ups yet (%s); retrying", exc,
                            extra={"event": "store_unavailable", "error": str(exc)})
                self.failed_once = True
            self._tried(ok=False)
            return []
        self._listened = True
        if self._failures:
            self.failed_once = False
            self._tried(ok=True)
        return fds

    def _tried(self, ok: bool) -> None:
        self._failures = 0 if ok else self._failures + 1
        delay = min(REVIVE_EVERY * 2 ** max(self._failures - 1, 0), REVIVE_MAX)
        self._next_try = time.monotonic() + delay

    def drain(self) -> set[str]:
        """The events heard; {"work"} after a re-listen (anything may have come meanwhile)."""
        return self.source.drain()

    def close(self) -> None:
        self.source.close()


class Relay:
    """The supervisor's side: what it heard, to which of its workers."""

    def __init__(self, source: WakeSource, board: IdleBoard) -> None:
        self.listener = PoolListener(source)
        self.board = board
        self.more_r, self.more_w = os.pipe()  # workers: "I claimed after a wake-up"
        os.set_blocking(self.more_r, False)
        os.set_blocking(self.more_w, False)

    def fds(self) -> list[int]:
        return [self.more_r, *self.listener.fds()]

    def watch(self, worker_id: str) -> None:
        """Before worker ``worker_id`` is forked: hear what the store sends it."""
        self.listener.source.watch(worker_id)

    def forget(self, worker_id: str) -> None:
        """Worker ``worker_id`` has exited."""
        self.listener.source.forget(worker_id)

    def after_fork(self) -> None:
        """In a forked worker: let go of the supervisor's ends (its connection is left
        alone: closing it here would end it for the supervisor too; os._exit leaves it be).
        What the worker keeps is ``side``'s."""
        os.close(self.more_r)
        self.listener.source.after_fork()

    def side(self, slot: int) -> WorkerSide:
        """What the worker of ``slot`` is given (see WorkerSide)."""
        return WorkerSide(self.board.setter(slot), self.more_w, self.board.reader(slot))

    def pump(self, pipes: dict[int, int], running: Callable[[int], bool],
             warm: Callable[[int], bool] | None = None) -> None:
        """Relay what is pending. ``pipes``: slot -> the worker's pipe; ``running(slot)``:
        whether that worker runs a job now; ``warm(slot)``: whether it holds a connection
        to the store now (such idle workers are woken first; None: by slot only)."""
        events = self.listener.drain()
        wakes = drain(self.more_r)
        if "work" in events:
            wakes += 1
        # To every worker, before any "work": a worker reads its pipe in order, so one
        # woken for a job has heard of the config change first.
        broadcast = b"".join(byte for event, byte in (("config", CONFIG), ("stop", STOP),
                                                       ("cancel", CANCEL)) if event in events)
        if broadcast:
            for fd in pipes.values():
                _send(fd, broadcast)
        order = sorted(pipes, key=lambda slot: (warm is not None and not warm(slot), slot))
        for _ in range(wakes):
            if not self._wake_one(pipes, running, order):
                break

    def _wake_one(self, pipes: dict[int, int], running: Callable[[int], bool],
                  order: Sequence[int]) -> bool:
        """Wake one idle worker, the first in ``order``; with none idle, every worker not
        running a job (one may be on its way to sleep). Whether an idle one was found."""
        slot = self.board.take(order)
        if slot is not None:
            if self.board.mark_sent(slot):
                _send(pipes[slot], WORK)
            return True  # (or it has one unread, which wakes it as well)
        for other, fd in pipes.items():
            if not running(other) and self.board.mark_sent(other):
                _send(fd, WORK)
        return False

    def close(self) -> None:
        self.listener.close()
        for fd in (self.more_r, self.more_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _send(fd: int, byte: bytes) -> None:
    with contextlib.suppress(OSError):  # gone (the reaper will see it), or its pipe is full
        os.write(fd, byte)


def drain(fd: int) -> int:
    """Read a non-blocking pipe empty; how many bytes it held."""
    count = 0
    try:
        while chunk := os.read(fd, 512):
            count += len(chunk)
    except BlockingIOError:
        pass
    return count


class WorkerSide:
    """What a worker under a relaying supervisor is given: its idle flag, and the pipe on
    which it says that it claimed a job after a wake-up (so the next idle worker looks)."""

    def __init__(self, idle: Callable[[bool], None], more_fd: int,
                 read: Callable[[], None]) -> None:
        self.idle = idle
        self.more_fd = more_fd
        self.read = read  # called once the worker has read its pipe

    def claimed(self) -> None:
        _send(self.more_fd, b"+")
