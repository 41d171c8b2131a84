"""A pool's few server connections, shared by its workers (the store's ConnectionGate).

On PostgreSQL each open store is a session the server counts against ``max_connections``;
a connection per worker made a fleet's size the server's business (12 hosts of 8 workers
were 108 sessions). Here a pool's workers hold at most ``slots`` connections at once: a
worker takes a slot before its store connects and gives it back when the store closes the
connection, which it does when it will not need the store for a while (pool/worker.py:
idle a moment, or running its job while another worker waits for a slot).

A slot is a one-byte POSIX record lock (``lockf``) in a file the supervisor made before it
forked: the kernel drops a process's locks when it dies, so a worker killed mid-call never
takes its slot with it. Who waits, and since when, is in memory shared across fork: a
worker that holds a slot and sees another wait gives its slot back at its next pause, and
waiters take freed slots in the order they began to wait (first come, first served: a
worker that waits for its heartbeat is never passed over until its lease runs out). A
waiter polls (every 1 ms, backing off to 16 ms): with slots to spare and nobody waiting,
taking one is one system call and no wait.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
import tempfile
import time

from queuectl.errors import StoreUnavailable
from queuectl.storage.base import ConnectionGate

SLOTS_ENV = "QUEUECTL_POOL_CONNECTIONS"  # a pool's cap on its workers' server connections
# Seconds a worker waits for a slot before its call fails as in an outage (and is retried):
# two heartbeat intervals at most, so a worker that waits still heartbeats within the lease.
WAIT_MAX = 10.0
POLL_FIRST = 0.001  # seconds between two looks for a free slot, doubling...
POLL_MAX = 0.016  # ...up to this


def default_slots(workers: int) -> int:
    """Pure: the connections a pool of ``workers`` holds at most unless told otherwise: one
    per worker, as a pool always held. Sharing fewer is asked for (QUEUECTL_POOL_CONNECTIONS)
    until its costs are taken back: an idle worker's round opens a cold connection (ten
    times the server CPU of an idle pool), and a worker stopped while it holds one (SIGSTOP,
    a stalled call) keeps it from the others."""
    return max(1, workers)


def slots_from(environ: dict[str, str] | os._Environ[str], workers: int) -> int:
    """``$QUEUECTL_POOL_CONNECTIONS`` (a whole number ≥ 1), else default_slots(workers).
    Raises ValueError naming the variable for anything else."""
    text = environ.get(SLOTS_ENV, "").strip()
    if not text:
        return default_slots(workers)
    try:
        slots = int(text)
    except ValueError:
        slots = 0
    if slots < 1:
        raise ValueError(f"{SLOTS_ENV} must be a whole number of at least 1, not {text!r}")
    return slots


class PoolSlots:
    """The supervisor's side: made before the workers are forked; each worker is given its
    ``gate(slot)``. The shared memory: per worker, since when it waits for a slot
    (monotonic seconds, 0: it does not); per worker, a byte: it holds a slot; one byte: a
    refusal has been said."""

    def __init__(self, slots: int, workers: int) -> None:
        self.slots = slots
        self.workers = workers
        self._fd, path = tempfile.mkstemp(prefix="queuectl-slots-")
        os.unlink(path)  # no name: only the forked workers reach it
        self._shared = mmap.mmap(-1, 9 * workers + 1)

    def gate(self, worker_slot: int) -> WorkerGate:
        """What the worker of ``worker_slot`` gives its store (and asks ``wanted``)."""
        return WorkerGate(self._fd, self.slots, self._shared, self.workers, worker_slot)

    def holding(self, worker_slot: int) -> bool:
        """Whether the worker of ``worker_slot`` holds a connection now (the relay wakes
        such a worker first: its connection is open, its statements' plans are made)."""
        return bool(self._shared[8 * self.workers + worker_slot])

    def clear(self, worker_slot: int) -> None:
        """A dead worker waits for nothing and holds nothing (its lock went with it)."""
        struct.pack_into("d", self._shared, 8 * worker_slot, 0.0)
        self._shared[8 * self.workers + worker_slot] = 0

    def close(self) -> None:
        os.close(self._fd)
        self._shared.close()


class WorkerGate(ConnectionGate):
    """One worker's side (see the module's docstring). Refusals by the server are noted in
    the shared memory too, so that of a pool's workers one says so."""

    def __init__(self, fd: int, slots: int, shared: mmap.mmap, workers: int, me: int) -> None:
        self.fd = fd
        self.slots = slots
        self._shared = shared
        self._workers = workers
        self._me = me
        self._holding = 8 * workers + me  # the byte saying that this worker holds one
        self._said = 9 * workers  # the byte noting that a refusal was said
        # More workers than connections: they take turns (an idle one closes its own);
        # otherwise every worker keeps one, as if there were no gate.
        self.shared = workers > slots
        self.held: int | None = None  # the slot taken, while a connection is open
        self._taken_at = 0.0  # monotonic: when it was taken
        # Seconds acquire waits: WAIT_MAX, unless the worker asks for less (a running job's
        # loop, which must keep draining its output, waits less and tries again later).
        self.patience = WAIT_MAX

    def _since(self, worker: int) -> float:
        [since] = struct.unpack_from("d", self._shared, 8 * worker)
        return float(since)

    def _turn(self) -> bool:
        """Whether no other worker has waited longer (ties: the lower slot first)."""
        mine = (self._since(self._me), self._me)
        return not any(since > 0 and (since, worker) < mine
                       for worker in range(self._workers) if worker != self._me
                       for since in (self._since(worker),))

    def acquire(self) -> None:
        if self.held is not None:
            return
        if not self.wanted() and self._take():
            return
        patience = self.patience
        deadline, pause = time.monotonic() + patience, POLL_FIRST
        if not self._since(self._me):
            struct.pack_into("d", self._shared, 8 * self._me, time.monotonic())
        while not (self._turn() and self._take()):
            if time.monotonic() >= deadline:
                # A running job's loop asks again at its next turn, and keeps its place in
                # the queue meanwhile (a holder that looks in between must see it wait);
                # any other caller naps, then asks anew.
                if patience >= WAIT_MAX:
                    struct.pack_into("d", self._shared, 8 * self._me, 0.0)
                error = StoreUnavailable(f"all {self.slots} server connections of this "
                                         f"pool stayed in use for {patience:g}s")
                # Said once per pool, as a refusal is; never by a running job's loop.
                error.quiet = patience < WAIT_MAX or not self.refused()
                raise error
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)
        struct.pack_into("d", self._shared, 8 * self._me, 0.0)

    def _take(self) -> bool:
        """Lock a free slot, starting with this worker's own (fewer collisions)."""
        for n in range(self.slots):
            slot = (self._me + n) % self.slots
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                continue
            self.held, self._taken_at = slot, time.monotonic()
            self._shared[self._holding] = 1
            return True
        return False

    def release(self) -> None:
        if self.held is None:
            return
        self._shared[self._holding] = 0
        fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, self.held)
        self.held = None

    def wanted(self) -> bool:
        return any(self._since(worker) for worker in range(self._workers)
                   if worker != self._me)

    def held_for(self) -> float:
        return 0.0 if self.held is None else time.monotonic() - self._taken_at

    def refused(self) -> bool:
        if self._shared[self._said]:
            return False
        self._shared[self._said] = 1  # (two workers may both say it: no lock for a line)
        return True

    def opened(self) -> None:
        if self._shared[self._said]:
            self._shared[self._said] = 0
