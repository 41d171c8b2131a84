"""Handing back the jobs of lost workers: who looks, and when.

Any live worker may hand back the jobs of lost ones (liveness is in the store, so this holds
across hosts), first killing what still runs of them on this machine (orphans.py): a retry
never starts beside its orphaned first attempt. Silence is judged only once the worker has
watched the store work for a whole lease itself.

One look hands back everything that is lost, so a pool looks once per heartbeat interval,
its workers in turn (Oban's Lifeline rescue, likewise, runs on its leader node alone): a
look by every worker at every heartbeat cost the store the fleet's size in transactions
each interval for nothing. A worker that starts looks at once: a restarted one finds its
predecessor's job straight away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from queuectl.pool import orphans
from queuectl.pool.store_calls import StoreCalls
from queuectl.storage.base import Storage
from queuectl.transitions import FailurePolicy

log = logging.getLogger("queuectl.worker")


class Recovery:
    """One worker's share of its pool's recovery looks. ``turn`` is (this worker's slot,
    the pool's size); ``lease`` gives the lease in seconds, as configured now."""

    def __init__(self, store: Storage, calls: StoreCalls, policy: FailurePolicy,
                 lease: Callable[[], float], turn: tuple[int, int]) -> None:
        self.store = store
        self.calls = calls
        self.policy = policy
        self.lease = lease
        self.slot, self.pool_size = turn
        self._next = 0.0  # monotonic: this worker's next turn

    def start(self, interval: float) -> None:
        """Look now, and take this worker's turns from here on (slot 0 at its next
        heartbeat, slot 1 an interval later, ...)."""
        self.look()
        self._next = time.monotonic() + self.slot * interval

    def at_heartbeat(self, interval: float) -> None:
        """Called at each heartbeat (every ``interval`` seconds): look if it is our turn."""
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.pool_size * interval
            self.look()

    def look(self) -> None:
        """Hand back the jobs of lost workers, retried through an outage."""
        lease = self.lease()
        judge = time.monotonic() - self.calls.watched_since >= lease
        recovered = self.calls.retrying(lambda: self.store.recover_stale(
            lease, self.policy, orphans.kill_orphaned, judge_silence=judge))
        for item in recovered:
            log.warning("recovered job %s from lost worker %s: now %s",
                        item.job_id, item.worker, item.new_state,
                        extra={"event": "job_recovered", "job": item.job_id,
                               "lost_worker": item.worker, "state": item.new_state})
