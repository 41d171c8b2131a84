"""Handing back the jobs of lost workers: who looks, and when.

Any live worker may hand back the jobs of lost ones (liveness is in the store, so this holds
across hosts), first killing what still runs of them on this machine (orphans.py): a retry
never starts beside its orphaned first attempt. Silence is judged only once the worker has
watched the store work for a whole lease itself.

One look hands back everything that is lost, so a pool looks about once per heartbeat
interval (no leader needed: SKIP LOCKED keeps two passes harmless): a look by every
worker at every heartbeat cost the store the fleet's size in transactions each interval for
nothing. The pool's workers share when its last look was (LookClock, memory the supervisor
maps before it forks them), and whichever of them heartbeats once that is an interval old
looks: a worker that is frozen or gone never holds the pool's looks back. A worker that
starts looks at once: a restarted one finds its predecessor's job straight away.
"""

from __future__ import annotations

import logging
import mmap
import struct
import time
from collections.abc import Callable

from queuectl import hostinfo
from queuectl.models import Job
from queuectl.pool import orphans
from queuectl.pool.store_calls import StoreCalls
from queuectl.storage import clock_steps
from queuectl.storage.base import Recovered, Storage
from queuectl.transitions import FailurePolicy, after_loss

log = logging.getLogger("queuectl.worker")

# A look is due once the pool's last one is this many heartbeat intervals old: a little
# under one, so that the heartbeats of workers started together (which come an interval
# apart, give or take scheduling) do not skip every other interval.
LOOK_EVERY = 0.8


def recover_stale(
    store: Storage, lease_timeout: float, policy: FailurePolicy,
    kill: Callable[[Job], None] | None = None, *, judge_silence: bool = True,
) -> list[Recovered]:
    """Hand back the jobs of lost workers (Storage.find_lost, then hand_back), first
    killing with ``kill(job)`` what may still run of each on this machine: after the
    store's decision is committed, so no kill waits inside a transaction that holds its
    write lock, and before the hand-back, so the jobs are still processing (nobody can
    claim one) while their orphans die. ``policy`` places each job (after_loss); a job
    that keeps killing its workers ends in the DLQ. Raises what the store raises."""
    lost = store.find_lost(lease_timeout, judge_silence=judge_silence)
    if not lost.anything:
        return []
    if kill is not None:
        for job in lost.jobs:
            kill(job)
    return store.hand_back(lost, [after_loss(job, policy) for job in lost.jobs])


def boot_clock_ms() -> int:
    """This host's CLOCK_BOOTTIME in ms: it never steps, and it counts a suspend."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)


class StepWatch:
    """Whether this host's wall clock stepped since the last ask: how far it lies from the
    boot-time clock moved by more than clock_steps.TOLERANCE_MS. Two clock reads, so a
    worker asks before every claim: a claim on a clock that stepped forward, before a look
    moves the waits by the step, would start delayed and backing-off jobs at once. (For
    a PostgreSQL store the host's clock does not matter, and a look it asks for is one
    more look.)"""

    def __init__(self) -> None:
        self._offset_ms = self._read()

    @staticmethod
    def _read() -> int:
        return int(time.time() * 1000) - boot_clock_ms()

    def stepped(self) -> bool:
        offset = self._read()
        moved = abs(offset - self._offset_ms) > clock_steps.TOLERANCE_MS
        self._offset_ms = offset
        return moved


class LookClock:
    """When a pool last looked for lost workers (monotonic seconds, which every process of
    the machine reads alike), in 8 bytes of memory shared by its processes: mapped by the
    supervisor before it forks its workers. Two workers that find a look due at the same
    moment both look; the store's SKIP LOCKED keeps that harmless."""

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, 8)

    def due(self, interval: float) -> bool:
        """Whether the pool's last look is LOOK_EVERY ``interval`` old; if so, it is now."""
        now = time.monotonic()
        [last] = struct.unpack_from("d", self._shared, 0)
        if last and now - last < LOOK_EVERY * interval:
            return False
        struct.pack_into("d", self._shared, 0, now)
        return True


class Recovery:
    """One worker's part in its pool's recovery looks; ``lease`` gives the lease in
    seconds, as configured now; ``clock`` is the pool's (None: a worker on its own, which
    looks at every heartbeat); ``boot_ms`` the host's clock that never steps (ms)."""

    def __init__(self, store: Storage, calls: StoreCalls, policy: FailurePolicy,
                 lease: Callable[[], float], clock: LookClock | None,
                 boot_ms: Callable[[], int] = boot_clock_ms) -> None:
        self.store = store
        self.boot_ms = boot_ms
        self.calls = calls
        self.policy = policy
        self.lease = lease
        self.clock = clock
        self.steps = StepWatch()

    def start(self) -> None:
        """Look now, as the worker starts."""
        self.look()

    def at_heartbeat(self, interval: float) -> None:
        """Called at each heartbeat (every ``interval`` seconds): look if the pool's last
        look is about an interval old."""
        if self.clock is None or self.clock.due(interval):
            self.look()

    def before_claim(self) -> None:
        """Look now if this host's wall clock stepped since the last claim: the look moves
        the waits by the step before a claim can read them on the stepped clock."""
        if self.steps.stepped():
            self.look()

    def look(self) -> None:
        """Correct a step of the store's clock, then hand back the jobs of lost workers,
        retried through an outage."""
        step_ms = self.calls.retrying(
            lambda: self.store.track_clock(hostinfo.boot_id(), self.boot_ms))
        if step_ms:
            log.warning("the store's clock stepped by %+.1f s: waits and heartbeats moved with it",
                        step_ms / 1000, extra={"event": "clock_step", "step_ms": step_ms})
        lease = self.lease()
        judge = self.calls.monotonic() - self.calls.watched_since >= lease
        recovered = self.calls.retrying(lambda: recover_stale(
            self.store, lease, self.policy, orphans.kill_orphaned, judge_silence=judge))
        for item in recovered:
            log.warning("recovered job %s from lost worker %s: now %s",
                        item.job_id, item.worker, item.new_state,
                        extra={"event": "job_recovered", "job": item.job_id,
                               "lost_worker": item.worker, "state": item.new_state})
