"""Housekeeping: what each worker does beside its jobs, firing recurring jobs' ticks and
applying the retention, each at its own pace. (Handing back lost workers' jobs is not here:
pool/recovery.py.)

Recurring jobs: any worker of any pool fires the ticks that have come (the store makes each
tick one job, whoever fires it, in the transaction that moves the schedule on). An idle
worker sleeps no longer than until the next job is due or the next tick comes, as the store
said in the claim that found it nothing to take (IdlePlan); a busy one fires due ticks from
its running job's periodic check (fire_ticks_while_busy), so ticks come (and overlaps are
recorded) while every worker is busy too.

Retention (config `retention`): finished jobs past it are deleted by the workers, PRUNE_BATCH
per transaction, sized so that a batch holds SQLite's write lock about as long as a worker's
own finish-and-claim (`python -m bench.prune` measures it), so a claim waiting behind it
waits no longer than usual. An idle worker deletes for up to PRUNE_IDLE_BUDGET seconds, a
busy one one batch between two jobs.
"""

from __future__ import annotations

import logging
import mmap
import struct
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from queuectl.errors import StoreUnavailable
from queuectl.models import IdlePlan
from queuectl.settings import Config
from queuectl.storage.base import Storage
from queuectl.storage.cron_flow import Fired

MIN_IDLE = 0.005  # seconds: shortest idle sleep
ALERT_INTERVAL = 5.0  # seconds between a worker's judgings of overdue schedules
PRUNE_BATCH = 50  # jobs
PRUNE_INTERVAL = 30.0  # seconds between passes once nothing was left to delete
PRUNE_AGAIN = 1.0  # seconds until the next pass while some are left
PRUNE_IDLE_BUDGET = 0.5  # seconds an idle worker prunes in one pass (a busy one: one batch)
EXPIRE_INTERVAL = 1.0  # seconds between a worker's looks for jobs whose expiry has come
EXPIRE_BATCH = 500  # jobs cancelled as expired per transaction

T = TypeVar("T")


ALERTS, EXPIRY = 0, 1  # the chores a pool's workers pace together (PoolPace)


class PoolPace:
    """When a pool last judged overdue schedules and looked for expired jobs (monotonic
    seconds, which every process of the machine reads alike), in memory shared by its
    workers (mapped by the supervisor before it forks them): each chore is then done about
    once per interval by the pool, not by each of its workers (on PostgreSQL, a transaction
    per worker per round). Two workers that find a chore due at once both do it, which the
    store makes harmless."""

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, 16)

    def due(self, chore: int, every: float) -> bool:
        """Whether the pool last did ``chore`` ``every`` seconds ago or more; if so, it is
        done now."""
        now = time.monotonic()
        [last] = struct.unpack_from("d", self._shared, 8 * chore)
        if last and now - last < every:
            return False
        struct.pack_into("d", self._shared, 8 * chore, now)
        return True

    def again(self, chore: int) -> None:
        """``chore`` is due again at once (it left work for the next pass)."""
        struct.pack_into("d", self._shared, 8 * chore, 0.0)


class StoreCall(Protocol):
    """How the worker makes a store call (StoreCalls.call, StoreCalls.retrying)."""

    def __call__(self, call: Callable[[], T], /) -> T: ...


log = logging.getLogger("queuectl.worker")


class Housekeeping:
    """A worker's housekeeping: ticks and retention. ``call`` makes one store call (a failure
    raised at once), ``retrying`` one that is retried until the store answers (the worker's
    StoreCalls, so its outage bookkeeping holds); ``woken`` says whether anything woke the
    worker; ``longest`` is the longest a plan of the next tick is trusted (seconds: a schedule
    added meanwhile wakes idle workers, not busy ones); ``worker_id`` the worker's, which
    saw the ticks that came since it started; ``pace`` the pool's, when its workers share
    the judging of overdue schedules and the expiry (None: each worker does both)."""

    def __init__(self, store: Storage, config: Callable[[], Config], call: StoreCall,
                 retrying: StoreCall, woken: Callable[[], bool], longest: float,
                 worker_id: str | None = None, pace: PoolPace | None = None) -> None:
        self.store = store
        self._pace = pace
        self._fire = lambda: store.cron_fire(worker_id)
        self.config = config
        self._call = call
        self._retrying = retrying
        self._woken = woken
        self._longest = longest
        self._next_tick_at = 0.0  # monotonic: when a schedule's next tick comes, as last asked
        self._next_prune = 0.0  # monotonic: when retention is next applied
        self._next_alert = 0.0  # monotonic: when overdue schedules are next judged
        self._next_expire = 0.0  # monotonic: when expired jobs are next looked for

    # --- recurring jobs ---------------------------------------------------------------------

    def fire_ticks(self) -> tuple[bool, float | None]:
        """Fire the ticks that have come, and move on the queue windows whose stretch has
        ended; (whether a job was enqueued or a window moved on, seconds until the next
        tick or None). Idle: asked until the store answers."""
        moved = self._retrying(self.store.queue_windows_refresh)
        wait = self._retrying(self.store.cron_seconds_until_tick)
        enqueued = moved > 0
        if wait == 0:
            enqueued = _log_fired(self._retrying(self._fire)) or enqueued
            wait = self._retrying(self.store.cron_seconds_until_tick)
        self.plan_tick(wait)
        return enqueued, wait

    def fire_ticks_while_busy(self) -> None:
        """From the running job's check: fire due ticks (a store failure is raised at once,
        and the check goes on)."""
        self.judge_overdue()
        if time.monotonic() < self._next_tick_at:
            return
        self._call(self.store.queue_windows_refresh)
        _log_fired(self._call(self._fire))
        self.plan_tick(self._call(self.store.cron_seconds_until_tick))

    def judge_overdue(self) -> None:
        """Every ALERT_INTERVAL: mark the overdue episodes of schedules with --alert-after
        (the store makes each begin once, whichever pool finds it first), and flag the
        suspect successes among the jobs completed since (each judged once). A store
        failure skips a pass."""
        if time.monotonic() < self._next_alert:
            return
        self._next_alert = time.monotonic() + ALERT_INTERVAL
        if self._pace is not None and not self._pace.due(ALERTS, ALERT_INTERVAL):
            return
        try:
            began = self._call(self.store.cron_judge_overdue)
        except StoreUnavailable as exc:
            if not exc.quiet:  # (said by another worker of the pool)
                log.warning("could not judge overdue schedules: %s", exc)
            return
        for name in began:
            log.warning("schedule %s is overdue: no success within its --alert-after", name,
                        extra={"event": "cron_overdue", "cron": name})
        try:
            flagged = self._call(self.store.cron_judge_suspects)
        except StoreUnavailable as exc:
            if not exc.quiet:  # (said by another worker of the pool)
                log.warning("could not judge the schedules' successes: %s", exc)
            return
        for job_id in flagged:
            log.warning("job %s: a suspect success (far shorter or quieter than usual)", job_id,
                        extra={"event": "cron_suspect", "job": job_id})

    def plan_tick(self, wait: float | None) -> None:
        """The next tick is ``wait`` seconds away (None: none planned); asked again no later
        than ``longest``."""
        ahead = self._longest if wait is None else min(wait, self._longest)
        self._next_tick_at = time.monotonic() + ahead

    def sleep_by(self, plan: IdlePlan) -> float | None:
        """How long an idle worker sleeps by ``plan`` (seconds, at most ``longest``), once
        the ticks that have come are fired; None when firing them enqueued a job."""
        self.judge_overdue()
        tick = plan.tick
        if tick == 0:
            enqueued, tick = self.fire_ticks()
            if enqueued:
                return None  # claim it (or what came first)
        else:
            self.plan_tick(tick)
        waits = [w for w in (plan.due, tick) if w is not None]
        # A floor, so that a job due but taken by another worker between a claim and its
        # plan cannot make the worker spin.
        return max(MIN_IDLE, min([*waits, self._longest]))

    # --- expiry ----------------------------------------------------------------------------

    def expire(self) -> None:
        """Cancel the waiting jobs whose expiry has come, at most every EXPIRE_INTERVAL
        (between jobs, and while one runs). A store outage skips a pass."""
        now = time.monotonic()
        if now < self._next_expire:
            return
        self._next_expire = now + EXPIRE_INTERVAL
        if self._pace is not None and not self._pace.due(EXPIRY, EXPIRE_INTERVAL):
            return
        try:
            expired = self._call(lambda: self.store.expire_jobs(EXPIRE_BATCH))
        except StoreUnavailable as exc:
            if not exc.quiet:  # (said by another worker of the pool)
                log.warning("could not cancel expired jobs: %s", exc)
            return
        for job_id in expired:
            log.info("job %s expired before it started: cancelled", job_id)
        if len(expired) == EXPIRE_BATCH:
            self._next_expire = 0.0  # more to come: the next pass goes on at once
            if self._pace is not None:
                self._pace.again(EXPIRY)

    # --- retention --------------------------------------------------------------------------

    def prune(self, idle: bool) -> None:
        """Apply retention when due: an idle worker deletes batches for up to
        PRUNE_IDLE_BUDGET seconds (stopping as soon as anything wakes it), a busy one one
        batch between two jobs. A store outage skips a pass, never a job."""
        retention = self.config().retention
        if not retention or time.monotonic() < self._next_prune:
            return
        deadline = time.monotonic() + (PRUNE_IDLE_BUDGET if idle else 0.0)
        again = PRUNE_AGAIN
        try:
            while True:
                deleted = self._call(lambda: self.store.prune_finished(retention, PRUNE_BATCH))
                if deleted < PRUNE_BATCH:
                    # Nothing left past the retention: check again within half of it (so
                    # a job is kept at most one and a half retentions), at most every interval.
                    again = min(PRUNE_INTERVAL, max(retention / 2, PRUNE_AGAIN))
                    return
                if time.monotonic() >= deadline or self._woken():
                    return  # out of time, or woken: work (or a stop) comes first
        except StoreUnavailable as exc:
            if not exc.quiet:  # (said by another worker of the pool)
                log.warning("could not delete jobs past the retention: %s", exc)
        finally:
            self._next_prune = time.monotonic() + again


def _log_fired(fired: list[Fired]) -> bool:
    """Log what firing did; whether a job was enqueued."""
    for item in fired:
        if item.replaced:
            log.info("cron %s: cancelled unfinished job %s for the tick's", item.name,
                     item.replaced)
        if item.job_id:
            log.info("cron %s: enqueued job %s", item.name, item.job_id)
        elif item.blocked_by:
            log.info("cron %s: skipped a tick: job %s is unfinished", item.name, item.blocked_by)
    return any(item.job_id for item in fired)
