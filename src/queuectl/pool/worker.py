"""One worker process: claim → run → finish, heartbeats, stop requests, crash recovery.

Signal handlers only count signals (one that did more could break into anything); the loop
reads the count through a self-pipe so a blocked select() wakes at once. Stop levels (pool/stop.py):
  GRACEFUL — finish the current job, then exit;
  ABORT — kill the running job's process group and hand the job back for retry.
A level can come from this process's own signals, from the supervisor over a pipe (so one
terminal Ctrl-C that reaches both counts once), or from the store (`worker stop`).

Whether this worker holds a job is the job row's to say (its worker and attempt number),
never the worker's own row's. A worker that finds its row gone was taken for lost (silent
past the lease): it registers again before it claims anything, and keeps running its job
unless the job's row names another attempt. It claims only while its last heartbeat is
recent (well within the lease), so a worker back from a long silence heartbeats first.

Beside its jobs, a worker fires recurring jobs' ticks and applies the retention
(pool/housekeeping.py), and hands back lost workers' jobs when its pool's recovery pass is due
(pool/recovery.py).

A store that cannot write is an outage: the job and its process are kept, its output
drained and its timeout enforced, and its end is recorded when the store writes again.

Embedded (tests, a host program), ``work_until_idle`` runs what is due and returns: the same
claim → run → finish, without signal handlers or a supervisor.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from queuectl import retry
from queuectl.errors import LostLease, StoreUnavailable
from queuectl.ids import new_worker_id
from queuectl.models import (
    AttemptResult,
    CheckIn,
    GpuUse,
    IdlePlan,
    Job,
    Outcome,
    State,
    WorkerInfo,
    replaced_job,
    utcnow,
)
from queuectl.pool.clocks import Clocks
from queuectl.pool.config_snapshot import ConfigSnapshot
from queuectl.pool.gate import WorkerGate
from queuectl.pool.housekeeping import MIN_IDLE, Housekeeping, PoolPace
from queuectl.pool.log import job_lines, say_finished, say_started, set_worker
from queuectl.pool.recovery import Recovery, RecoveryClock
from queuectl.pool.relay import EVENTS, WorkerSide, drain
from queuectl.pool.runner import CHECK_INTERVAL, Action, Hooks, RunSpec, run
from queuectl.pool.stop import StopLevel, StopSignals
from queuectl.pool.store_calls import STORE_RETRY_MAX, StoreCalls, outage_fields
from queuectl.settings import ENV_DB, SNOOZE_FILE_ENV, Config
from queuectl.storage.base import Listener, Storage
from queuectl.storage.liveness import HOST_ID, PID_SCOPE
from queuectl.transitions import after_attempt, after_snooze, at_claim, judged

IDLE_POLL = 5.0  # seconds: longest idle sleep (a safety net: wake-ups and due times come first)
MAX_HEARTBEAT = 5.0  # seconds; heartbeats come at least 3 times per lease
# The worker claims while its last heartbeat is younger than this many heartbeat intervals
# (2 × lease/3 at most: never old enough for another worker to take it for lost).
FRESH_HEARTBEATS = 2
# Under a pool's connection gate (pool/gate.py): seconds an idle worker keeps its server
# connection before closing it (a trickle of jobs, each woken for in turn, reuses it), and
# how often it looks meanwhile whether another worker waits for one (it then closes it).
IDLE_HOLD = 2.0
WANTED_LOOK = 0.05
# Heartbeat intervals a busy worker keeps its connection at least, however many others wait
# for one (at most BUSY_HOLD_MAX seconds): a connection costs the server a process, and its
# first statements cost more (plans, caches), so closing it after each short job would cost
# more than the jobs; yet a worker that waits behind the 3 or 4 others of its connection
# (QUEUECTL_POOL_CONNECTIONS: one per 4 workers in a fleet) must still heartbeat well
# within the lease.
BUSY_HOLD = 0.25
BUSY_HOLD_MAX = 1.0
# Seconds a running job's loop waits for a connection (it must keep draining the job's
# output and enforcing its timeout; the check or save is tried again at the next turn).
RUNNING_PATIENCE = 0.5

CANCELLED_EARLY = "cancelled before it started"  # the error of an attempt that never ran
CUDA_VISIBLE = "CUDA_VISIBLE_DEVICES"  # the GPUs a job's CUDA programs see

log = logging.getLogger("queuectl.worker")


class Worker:
    def __init__(
        self,
        store: Storage,
        queues: Sequence[str] = (),
        supervisor_fd: int | None = None,
        worker_id: str | None = None,
        job_group: Callable[[int], None] | None = None,
        relayed: WorkerSide | None = None,
        recovery_clock: RecoveryClock | None = None,
        clocks: Clocks | None = None,
        url: str | None = None,
        gpus: Sequence[int] = (),
        gate: WorkerGate | None = None,
        pace: PoolPace | None = None,
    ) -> None:
        self.store = store
        # `worker start --gpus`: the GPUs of this host its pool owns (indexes); empty: none.
        self.gpus = list(gpus)
        # The pool's share of server connections this worker's store takes from
        # (pool/gate.py): the worker closes its connection when it will not need it awhile.
        self.gate = gate
        self.url = url  # given to each job (QUEUECTL_DB), for `queuectl snooze`
        self._snooze_dir: str | None = None  # made when the first job runs
        clocks = clocks or Clocks()
        # Under a supervisor that listens for the pool (pool/relay.py): the store's
        # wake-ups come over the supervisor's pipe, and no LISTEN of our own is opened.
        self.relayed = relayed
        self._relayed_events: set[str] = set()
        self.job_group = job_group  # told the running job's process group id (0: none)
        self.queues = list(queues)
        self.id = worker_id or new_worker_id()
        self.supervisor_fd = supervisor_fd
        self.signals = StopSignals()  # SIGINT/SIGTERM/SIGHUP received by this process
        self.ordered = StopLevel.NONE  # ordered by the supervisor or the store
        self.until_idle = False  # work_until_idle: return once nothing is due
        self._enough = StopLevel.NONE  # GRACEFUL once work_until_idle ran its max_jobs
        self._quota: int | None = None  # work_until_idle's max_jobs
        self.ran = 0  # jobs taken in hand by the current run
        self.current: Job | None = None
        self._job_lost = False  # the running job's row names another attempt or state now
        self._also_held: str | None = None  # a job the store says we hold, unknown to us
        self._in_check = False  # inside the runner's check: store calls must not block
        self.settings = ConfigSnapshot(store.config_items)
        self._next_heartbeat = 0.0
        self._spread_done = False  # the first heartbeat's next one was spread (_spread)
        self._alive_at = -math.inf  # monotonic: just before the store last took our heartbeat
        self.calls = StoreCalls(
            self._gives_up, self._nap,
            lambda: self._heartbeat_interval() if self.settings.known else STORE_RETRY_MAX,
            clocks.monotonic,
        )
        self.housekeeping = Housekeeping(
            store, self.config, self.calls.call, self.calls.retrying,
            lambda: bool(select.select(self.fds, [], [], 0)[0]), longest=IDLE_POLL,
            worker_id=self.id, pace=pace)
        # ``recovery_clock``: when the pool last made a recovery pass (shared by its workers).
        self.recovery = Recovery(store, self.calls, self.policy,
                                 lambda: self.config().lease_timeout, recovery_clock,
                                 clocks.boot_ms)
        self._base_env = dict(os.environ)
        self._job_lines = job_lines(log)  # the hot path's one line per job (text format)
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        # Opened by run(), once registered: the store's wake-ups, and every descriptor the
        # worker waits on (wake-ups, self-pipe, supervisor pipe).
        self.listener: Listener | None = None
        self.fds: list[int] = []

    # --- stop levels ---------------------------------------------------------------------

    def _gives_up(self) -> bool:
        """Whether a store call that fails is raised rather than retried: stopping hard;
        inside a running job's check (its loop must keep draining the pipe and enforcing the
        timeout); or told to stop with no job in hand, when nothing waits on the store (a
        claim whose answer was lost is handed back by the lease)."""
        stopping = self.level
        return stopping >= StopLevel.ABORT or self._in_check or (
            stopping > StopLevel.NONE and self.current is None)

    @property
    def level(self) -> StopLevel:
        return max(self.signals.level, self.ordered, self._enough)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.heard(signum)  # nothing else here: the loop acts on it

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        # SIGHUP: the terminal of a foreground pool went away. Stop gracefully rather than
        # die mid-job (its default), which would leave the job running on unattended; a
        # hang-up is one graceful stop however often it comes (pool/stop.py).
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _read_supervisor(self) -> None:
        if self.supervisor_fd is None:
            return
        try:
            data = os.read(self.supervisor_fd, 64)
        except BlockingIOError:
            return
        if not data:  # the supervisor is gone: nobody will tell us to stop, so stop now
            # An fd at EOF is always readable: left in the select sets, it would spin the
            # runner's loop at 100% CPU until the current job ends.
            if self.supervisor_fd in self.fds:
                self.fds.remove(self.supervisor_fd)
            os.close(self.supervisor_fd)
            self.supervisor_fd = None
            self.ordered = max(self.ordered, StopLevel.GRACEFUL)
            return
        if self.relayed is not None:
            self.relayed.read()
        text = data.decode(errors="replace")
        heard = (StopLevel.reached(int(b)) for b in text if b.isdigit())
        self.ordered = max((self.ordered, *heard))
        self._relayed_events.update(EVENTS[b] for b in text if b in EVENTS)

    def _nap(self, seconds: float) -> None:
        """Sleep, but wake at once for a signal or the supervisor (a second Ctrl-C)."""
        fds = [fd for fd in (self._wake_r, self.supervisor_fd) if fd is not None]
        ready, _, _ = select.select(fds, [], [], seconds)
        if self._wake_r in ready:
            drain(self._wake_r)
        if self.supervisor_fd is not None and self.supervisor_fd in ready:
            self._read_supervisor()

    # --- configuration and policy ----------------------------------------------------------

    def config(self) -> Config:
        """The stored config (pool/config_snapshot.py)."""
        return self.settings.get()

    def policy(self, job: Job) -> retry.NextStep:
        cfg = self.config()
        return retry.after_failure(job.attempts, job.max_retries, cfg.backoff_base, cfg.backoff_max)

    def _heartbeat_interval(self) -> float:
        return min(MAX_HEARTBEAT, self.config().lease_timeout / 3)

    # --- the loop ---------------------------------------------------------------------

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Work until told to stop; ``on_ready`` is called once registered and listening.
        Returns the process's exit code (0)."""
        self._install_signals()
        self._serve(on_ready)
        return 0

    def work_until_idle(self, max_jobs: int | None = None) -> int:
        """Run the jobs that are due (and fire the ticks that have come) until a claim finds
        none due, or ``max_jobs`` were run; returns how many were run (a job cancelled before
        it started counts). Registered and unregistered like any worker; installs no signal
        handler and needs no supervisor, so it runs inside another program (a test). A job
        still runs in its own process group, watched as under a pool. Raises ValueError for
        a worker made for a supervisor."""
        if self.supervisor_fd is not None or self.relayed is not None:
            raise ValueError("a worker under a supervisor runs until told to stop")
        self.until_idle, self._quota, self.ran = True, max_jobs, 0
        self.ordered = StopLevel.NONE  # (a stop asked of a previous run was carried out)
        self.settings.forget()  # a run starts on the config as stored now
        self._enough = StopLevel.GRACEFUL if max_jobs is not None and max_jobs <= 0 else \
            StopLevel.NONE
        try:
            self._serve(None)
        finally:
            self.until_idle, self._quota, self._enough = False, None, StopLevel.NONE
        return self.ran

    def _serve(self, on_ready: Callable[[], None] | None) -> None:
        self.calls.retrying(self._register)
        self.calls.retrying(self.config)
        listener = self.store.listener(self.id) if self.relayed is None else None
        fds = (listener.fileno() if listener else None, self._wake_r, self.supervisor_fd)
        self.fds = [fd for fd in fds if fd is not None]
        self.listener = listener
        if on_ready is not None:
            on_ready()
        set_worker(self.id)
        log.info("worker %s started (pid %d, queues: %s)", self.id, os.getpid(),
                 ",".join(self.queues) or "all",
                 extra={"event": "worker_started", "queues": self.queues})
        try:
            self.recovery.start()
            self._loop()
        except StoreUnavailable as exc:
            if not (self.level == StopLevel.GRACEFUL and self.current is None):
                raise
            log.warning("stopping while the store is unavailable: %s", exc,
                        extra=outage_fields(exc))
        finally:
            if listener is not None:
                listener.close()
            try:
                self.store.unregister_worker(self.id)
            except StoreUnavailable as exc:  # the lease will tell the others we are gone
                log.warning("could not unregister: %s", exc, extra=outage_fields(exc))
            if self._snooze_dir is not None:
                shutil.rmtree(self._snooze_dir, ignore_errors=True)
                self._snooze_dir = None
            log.info("worker %s stopped", self.id, extra={"event": "worker_stopped"})

    def _loop(self) -> None:
        job: Job | None = None
        # What the last claim that took nothing said to sleep by; None: claim first. A
        # worker woken for a job that another took sleeps again on that one claim.
        plan: IdlePlan | None = None
        asked_again = False  # until_idle: a due job not claimed was asked for once more
        while True:
            self.current = job  # a heartbeat between two jobs reports the claimed one
            if self._maybe_heartbeat():
                plan = None  # its recovery may have handed jobs back: claim first
            # A job claimed as the previous one finished (or claimed by a call whose answer
            # was lost) runs even if a stop came meanwhile: it is already ours, like one
            # claimed just before a stop request.
            if job is None:
                job = self._take_held_job()
            if job is None and plan is None and self.level == StopLevel.NONE:
                job, plan = _split(self._claim())
            self.housekeeping.prune(idle=job is None)
            self.housekeeping.expire()
            if job is not None:
                self._took(job)
                asked_again = False
                job, plan = _split(self._process(job))  # from the finish's own transaction
                continue
            if self.level:
                return
            if plan is None:  # no claim was made: a heartbeat comes first, or a call failed
                self._idle_wait(MIN_IDLE)
                continue
            if plan.due == 0:  # due, yet not ours: taken by another worker, or we are not
                self._next_heartbeat = 0.0  # registered any more (the heartbeat says)
            # Whatever wakes us, the claim that follows brings a fresh plan.
            due_now, wait, plan = plan.due == 0, self.housekeeping.sleep_by(plan), None
            if wait is None:  # a tick fired a job: claim it
                continue
            if self.until_idle:
                if not due_now or asked_again:
                    return
                asked_again = True  # after a heartbeat (registering again if need be)
                continue
            self._idle_wait(wait)

    def _took(self, job: Job) -> None:
        """Count a job taken in hand; once work_until_idle's max_jobs is reached, its finish
        claims no next one and the loop ends after it."""
        self.ran += 1
        if self._quota is not None and self.ran >= self._quota:
            self._enough = StopLevel.GRACEFUL

    def _info(self) -> WorkerInfo:
        state = "busy" if self.current else "idle"
        job_id = self.current.id if self.current else None
        return WorkerInfo(self.id, HOST_ID, os.getpid(), state, job_id, utcnow(), utcnow(),
                          self.queues, PID_SCOPE, [GpuUse(HOST_ID, gpu) for gpu in self.gpus])

    def _register(self) -> None:
        began = time.monotonic()
        self.store.register_worker(self._info())
        self._alive_at = began

    def _idle_wait(self, timeout: float) -> None:
        wait = min(timeout, max(0.0, self._next_heartbeat - time.monotonic()))
        if self.relayed is not None:
            self.relayed.idle(True)  # the supervisor may wake us for the next ready job
        try:
            ready = self._wait_idle(wait)
        finally:
            if self.relayed is not None:
                self.relayed.idle(False)
        self._on_wake(ready)

    def _wait_idle(self, wait: float) -> list[int]:
        """The descriptors ready within ``wait`` seconds. Under a gate the store's server
        connection is closed once the worker has been idle IDLE_HOLD seconds of a longer
        wait, or at once when another worker of the pool waits for one; the next store call
        opens one again. (A pool with a connection for each worker keeps them all.)"""
        if self.gate is None or not self.gate.shared:
            return select.select(self.fds, [], [], wait)[0]
        ends = time.monotonic() + wait
        hold_until = ends - wait + IDLE_HOLD if wait > IDLE_HOLD else ends
        while not self.gate.wanted():
            left = hold_until - time.monotonic()
            if left <= 0:
                break
            ready = select.select(self.fds, [], [], min(left, WANTED_LOOK))[0]
            if ready:
                return ready
        if time.monotonic() >= ends:
            return []
        self.store.release_connection()
        return select.select(self.fds, [], [], max(0.0, ends - time.monotonic()))[0]

    def _impatient(self) -> float:
        """Wait at most RUNNING_PATIENCE for a connection from now; what to restore."""
        if self.gate is None:
            return 0.0
        was, self.gate.patience = self.gate.patience, RUNNING_PATIENCE
        return was

    def _patient(self, was: float) -> None:
        if self.gate is not None:
            self.gate.patience = was

    def _yield_connection(self) -> None:
        """Close the store's server connection if another worker of the pool waits for one
        and this one has held it long enough (BUSY_HOLD; a running job needs the store only
        now and then: check-ins, output, its end)."""
        if self.gate is None or not self.gate.wanted():
            return
        if self.gate.held_for() >= min(BUSY_HOLD * self._heartbeat_interval(), BUSY_HOLD_MAX):
            self.store.release_connection()

    def _on_wake(self, ready: Sequence[int]) -> None:
        if self._wake_r in ready:
            drain(self._wake_r)
        events: set[str] = set()
        if self.supervisor_fd in ready:
            self._read_supervisor()
        # (also what a nap read from the pipe meanwhile)
        events, self._relayed_events = self._relayed_events, set()
        if self.listener is not None and self.listener.fileno() in ready:
            events |= self.listener.drain()
        if "config" in events:
            self.settings.forget()
        if "stop" in events:
            self._check_in()

    # --- what the store says of us ---------------------------------------------------------

    def _fresh(self) -> bool:
        """Our last heartbeat is recent enough that nobody can have taken us for lost."""
        return time.monotonic() - self._alive_at < FRESH_HEARTBEATS * self._heartbeat_interval()

    def _maybe_heartbeat(self) -> bool:
        """Heartbeat if one is due (or the last is not known to have been taken); whether
        one was sent. Registers again first thing if the store had taken us for lost."""
        now = time.monotonic()
        interval = self._heartbeat_interval()
        if now < self._next_heartbeat and now - self._alive_at < interval:
            return False
        self._next_heartbeat = now + interval * self._spread()
        check = self.calls.retrying(lambda: self.store.heartbeat(self.id, self.current))
        if check.lost:
            log.warning("worker %s was taken for lost (silent past the lease); registering "
                        "again", self.id, extra={"event": "worker_taken_for_lost"})
            self.calls.retrying(self._register)
            if self.current is not None:  # registered: the job's row alone says if it is ours
                check = self.calls.retrying(lambda: self.store.check_in(self.id, self.current))
        else:
            self._alive_at = now
        self._apply_check_in(check)
        self.recovery.at_heartbeat(interval)
        return True

    def _spread(self) -> float:
        """The share of an interval until the next heartbeat: 1, but a random share of it
        for the first heartbeat of a worker under a gate (a pool's workers start together;
        spread, their heartbeats seldom wait on each other for a connection). Sooner is
        always safe."""
        if self.gate is None or not self.gate.shared or self._spread_done:
            return 1.0
        self._spread_done = True
        return random.uniform(0.25, 1.0)

    def _check_in(self) -> Action:
        check = self.calls.retrying(lambda: self.store.check_in(self.id, self.current))
        if check.lost:
            self._next_heartbeat = 0.0  # register again at once
        self._apply_check_in(check)
        return Action.CANCEL if self._job_lost else Action.CONTINUE

    def _apply_check_in(self, check: CheckIn) -> None:
        """Take what a heartbeat or check-in brought: the config, a stop, the running job
        taken from us, a job the store says we hold (run next by _take_held_job)."""
        if check.config is not None:
            self.settings.take(check.config)
        if check.stop:
            self.ordered = max(self.ordered, StopLevel.GRACEFUL)
        if check.job_lost and self.current is not None:
            # Said once, when it has ended: a cancel is no fault (say_lost).
            self._job_lost = True
        self._also_held = check.also_held

    def _take_held_job(self) -> Job | None:
        """The job the store says we hold though we never heard of it (the answer to the
        call that claimed it was lost with the connection): ours to run."""
        job_id, self._also_held = self._also_held, None
        if job_id is None:
            return None
        job = self.calls.retrying(lambda: self.store.get_job(job_id))
        if job is None or job.state is not State.PROCESSING or job.worker != self.id:
            return None
        log.warning("job %s was claimed for this worker by a call whose answer was lost; "
                    "running it", job.id,
                    extra={"event": "job_adopted", "job": job.id})
        return job

    def _claim(self) -> Job | IdlePlan | None:
        """The next job, or the plan to sleep by; None when no claim was made."""
        if not self._fresh():
            self._next_heartbeat = 0.0  # heartbeat first (and register again if need be)
            return None
        try:
            self.recovery.before_claim()
            if self.gpus:  # a GPU job that fits the pool's free GPUs first
                found = self.calls.call(lambda: self.store.claim_gpus(
                    self.id, HOST_ID, self.gpus, self.queues))
            else:
                found = self.calls.call(lambda: self.store.claim_or_plan(self.id, self.queues))
        except StoreUnavailable as exc:
            # Never retried blindly: if it was committed, a second claim would take a second
            # job. The next heartbeat says whether it was (CheckIn.also_held).
            if not exc.quiet:  # (another worker of the pool said it)
                log.warning("store unavailable (%s); asking before claiming again", exc,
                            extra=outage_fields(exc))
            self._next_heartbeat = 0.0
            self._nap(0.1)
            return None
        if isinstance(found, Job) and self.relayed is not None:
            # A pool's wake-up goes to one idle worker; more may be ready (a burst, or a
            # re-listen after an outage): the next idle one is woken, and claims or finds
            # nothing. (A worker on its own hears every wake-up.)
            self.relayed.claimed()
        return found

    # --- one job --------------------------------------------------------------------------

    def _process(self, job: Job) -> Job | IdlePlan | None:
        """Run one job and record how it ended; returns the next job claimed in the same
        store call, or the plan it read when it found none (only while the worker is not
        stopping)."""
        self.current = job
        # What came meanwhile (a config change, above all) counts for this job: one
        # claimed by the last one's finish was never woken for.
        self._on_wake(select.select(self.fds, [], [], 0)[0])
        started = time.monotonic()
        if not self._job_lost:
            job = self._start_deadline(job)
            stop = at_claim(job)
            if stop is not None:  # expired, or past its deadline: never started
                self._end_unstarted(job, *stop)
                return None
        if self._job_lost:  # cancelled between its claim and now: never started
            result = AttemptResult(Outcome.CANCELLED, error=CANCELLED_EARLY)
        else:
            say_started(self._job_lines, job)
            self._yield_connection()
            result = self._run(job)
        if self.job_group is not None:
            self.job_group(0)
        ended_at = None
        if job.deadline_at is not None and job.started_at is not None:
            ended_at = job.started_at + timedelta(seconds=time.monotonic() - started)
        try:
            final, nxt = self._finish(job, result, ended_at)
        finally:
            self.current = None
            self._job_lost = False
        if final is None:
            self._say_lost(job, result)
        else:
            say_finished(self._job_lines, job, final, time.monotonic() - started, result)
        return nxt

    def _start_deadline(self, job: Job) -> Job:
        """The job with its deadline_at: set in the store as its first attempt starts."""
        if job.deadline is None or job.deadline_at is not None:
            return job
        try:
            at = self.calls.call(lambda: self.store.start_deadline(job, self.id))
        except StoreUnavailable:  # counted from this start, and stored at the next one
            assert job.started_at is not None
            at = job.started_at + timedelta(seconds=job.deadline)
        return job if at is None else replaced_job(job, deadline_at=at)

    def _end_unstarted(self, job: Job, state: State, error: str) -> None:
        """End a claimed job that must not start (see transitions.at_claim)."""
        try:
            ended = self.calls.retrying(
                lambda: self.store.end_unstarted(job, self.id, state, error))
        finally:
            self.current = None
            self._job_lost = False
        if ended:
            log.info("job %s not started: %s", job.id, error,
                     extra={"event": "job_not_started", "job": job.id, "error": error})

    def _say_lost(self, job: Job, result: AttemptResult) -> None:
        """One line for a job whose end was not ours to record: its row says why. A cancel
        is what a user asked for (INFO); a job taken over, or whose end was recorded by a
        call whose answer was lost, is worth a WARNING."""
        try:
            now = self.calls.call(lambda: self.store.get_job(job.id))
        except StoreUnavailable:
            now = None
        if now is not None and now.state is State.CANCELLED:
            if result.error == CANCELLED_EARLY:
                what = "cancelled before it started"
            elif result.outcome is Outcome.CANCELLED:
                what = "cancelled while running; its process group was killed"
            else:  # it ended on its own as the cancel came
                what = "cancelled as it ended"
            log.info("job %s %s", job.id, what, extra={
                "event": "job_cancelled", "job": job.id, "attempt": job.last_attempt})
            return
        log.warning("job %s was no longer this worker's when it ended (recovered by another "
                    "worker while this one was silent, or recorded by a call whose answer "
                    "was lost)", job.id, extra={"event": "job_lost", "job": job.id})

    def _run(self, job: Job) -> AttemptResult:
        """The attempt, in a fresh copy of the job's snapshot if it has one (removed after,
        however the attempt ended)."""
        if job.snapshot is None:
            return self._run_in(job)
        from queuectl.pool import snapshot_copy

        try:
            self._given_env()  # makes the worker's own folder the copy goes in
            assert self._snooze_dir is not None
            snapshot, parent = job.snapshot, self._snooze_dir
            copy = self.calls.call(lambda: snapshot_copy.make(self.store, snapshot, parent))
        except Exception as exc:  # noqa: BLE001 - recorded, never lost
            log.warning("cannot copy out job %s's snapshot: %s", job.id, exc,
                        extra={"event": "job_not_started", "job": job.id, "error": str(exc)})
            return AttemptResult(Outcome.NOT_STARTED, error=f"cannot start: snapshot: {exc}")
        try:
            return self._run_in(replaced_job(job, cwd=snapshot_copy.run_dir(copy, snapshot)))
        finally:
            snapshot_copy.remove(copy)

    def _run_in(self, job: Job) -> AttemptResult:
        """The runner never raises once the command has started (it kills it first), so
        whatever fails here failed before: the attempt never started."""
        try:
            given, stdin = self._given_env(), None
            if job.hook:  # a hook's job: what happened, and to which job (and schedule)
                event_job = job.hook.get("job") or ""
                given["QUEUECTL_EVENT"] = job.hook.get("event") or ""
                given["QUEUECTL_EVENT_JOB"] = event_job
                if job.hook.get("cron"):
                    given["QUEUECTL_CRON"] = str(job.hook["cron"])
                stdin = self._event_document(event_job)
            if self.gpus or job.gpus_assigned is not None:
                given.update(gpu_env(job))
            spec = RunSpec.of(job, self._base_env, self.id, self.config().max_log_bytes,
                              given, stdin)
            hooks = self._hooks(job)
        except Exception as exc:  # noqa: BLE001 - recorded, never lost
            log.exception("cannot start job %s", job.id,
                          extra={"event": "job_not_started", "job": job.id, "error": str(exc)})
            return AttemptResult(Outcome.NOT_STARTED, error=f"cannot start: {exc}")
        return run(spec, hooks)

    def _event_document(self, job_id: str) -> bytes:
        """The `show --json` document of a hook's event job, as it is now ({} if gone, or
        if the event has none: a schedule overdue before its first job)."""
        import json

        if not job_id:
            return b"{}\n"

        from queuectl.app.documents import job_with_attempts
        from queuectl.errors import JobNotFound

        try:
            doc = self.calls.call(lambda: job_with_attempts(self.store, job_id)).to_dict()
        except JobNotFound:
            doc = {}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"

    def _given_env(self) -> dict[str, str]:
        """What a job's environment tells `queuectl snooze`: the store, and this worker's
        snooze file (cleared before each attempt)."""
        if self._snooze_dir is None:
            self._snooze_dir = tempfile.mkdtemp(prefix="queuectl-worker-")  # private: 0700
        path = os.path.join(self._snooze_dir, "snooze")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        given = {SNOOZE_FILE_ENV: path}
        if self.url is not None:
            given[ENV_DB] = self.url
        return given

    def _snoozed(self) -> float | None:
        """Seconds the attempt that just ended asked to snooze (None: it did not)."""
        if self._snooze_dir is None:
            return None
        path = os.path.join(self._snooze_dir, "snooze")
        try:
            with open(path, encoding="ascii") as told:
                text = told.read()
            os.unlink(path)
            return float(text)
        except (OSError, ValueError):
            return None

    def _finish(
        self, job: Job, result: AttemptResult, ended_at: datetime | None = None,
    ) -> tuple[Job | None, Job | IdlePlan | None]:
        """(the finished job, or None if it was taken from us; the next job or the plan,
        if a claim was made).

        Retried through an outage until the store takes it: the job is over and its end,
        output included, is only in our hands. One store call for this job's end and the
        next job's start, unless stopping, or our heartbeat is not recent (then heartbeat
        before claiming), or a call failed (its answer may have been what was lost: a
        second claim would take a second job; the heartbeat says what the first took)."""
        claim = self.level == StopLevel.NONE and self._also_held is None and self._fresh()
        claim = claim and not self.gpus  # a GPU pool's worker claims on its own (claim_gpus)
        # Where the job goes is ours to say (pure policy, the config as now); the store
        # applies it, guarded, in its own transaction.
        if job.success_exit:  # the attempt's row says succeeded for a success code
            result = judged(job, result)
        snoozed = self._snoozed()
        step = None if snoozed is None else after_snooze(job, result, snoozed)
        if step is None:
            step = after_attempt(job, result, self.policy, ended_at)
        delay = 0.1
        while True:
            try:
                if claim:
                    return self.calls.call(lambda: self.store.finish_and_claim(
                        job, self.id, result, step, self.queues))
                done = self.calls.call(lambda: self.store.finish(job, self.id, result, step))
                return done, None
            except LostLease:
                return None, None
            except StoreUnavailable as exc:
                # Its process is gone; the lease will hand it back.
                if self.level >= StopLevel.ABORT:
                    log.warning("could not record the end of job %s (%s); stopping anyway",
                                job.id, exc, extra=outage_fields(exc, job.id))
                    return None, None
                if not exc.quiet:  # (another worker of the pool said it)
                    log.warning("store unavailable (%s); recording job %s again in %.1fs",
                                exc, job.id, delay, extra=outage_fields(exc, job.id))
                claim, self._next_heartbeat = False, 0.0
                self._nap(delay)
                delay = self.calls.backoff(delay)

    def _hooks(self, job: Job) -> Hooks:
        def check() -> Action:
            self._in_check = True
            patience = self._impatient()
            try:
                self._on_wake(select.select(self.fds, [], [], 0)[0])
                if self.level >= StopLevel.ABORT:
                    return Action.ABORT
                self.housekeeping.fire_ticks_while_busy()
                self.housekeeping.expire()
                if self._maybe_heartbeat():  # (it read what check_in would)
                    return Action.CANCEL if self._job_lost else Action.CONTINUE
                if self._job_lost:
                    return Action.CANCEL  # recovered elsewhere: never run it twice at once
                return self._check_in()
            except StoreUnavailable as exc:
                # Keep draining the pipe and enforcing the timeout; ask again next time.
                if not exc.quiet:  # (another worker of the pool said it, or no need to)
                    log.warning("store unavailable while %s runs: %s", job.id, exc,
                                extra=outage_fields(exc, job.id))
                return Action.ABORT if self.level >= StopLevel.ABORT else Action.CONTINUE
            finally:
                self._in_check = False
                self._yield_connection()
                self._patient(patience)

        def save(data: bytes, dropped: int) -> None:
            # A progress save only: the finish carries the full tail. Never let a store
            # outage stall the loop that drains the job's pipe and enforces its timeout.
            patience = self._impatient()
            try:
                number = job.last_attempt
                self.calls.call(lambda: self.store.save_output(job.id, number, data, dropped))
                self._yield_connection()
            except StoreUnavailable as exc:
                if not exc.quiet:  # (another worker of the pool said it)
                    log.warning("could not save output of %s yet: %s", job.id, exc,
                                extra=outage_fields(exc, job.id))
            finally:
                self._patient(patience)

        # Checks (which heartbeat when due) twice per heartbeat interval: the heartbeat is
        # then never later than 2/3 of the lease, however short the lease is.
        every = min(CHECK_INTERVAL, self._heartbeat_interval() / 2)
        return Hooks(self.fds, check, save, check_interval=every, started=self.job_group)


def gpu_env(job: Job) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for a job run by a pool with GPUs: the indexes it was given
    (comma list), or empty for a job without GPUs (it sees none) unless its own env sets it."""
    if job.gpus is not None and job.gpus_assigned is not None:
        return {CUDA_VISIBLE: ",".join(map(str, job.gpus_assigned))}
    if job.env and CUDA_VISIBLE in job.env:
        return {}
    return {CUDA_VISIBLE: ""}


def _split(found: Job | IdlePlan | None) -> tuple[Job | None, IdlePlan | None]:
    """A claim's answer as (the job, the plan)."""
    return (found, None) if isinstance(found, Job) else (None, found)
