"""The storage contract: everything queuectl asks of a store, at the level of the domain.

Both stores (SQLite, PostgreSQL) implement exactly this; the CLI, the worker and the
dashboard know nothing else. Every state transition is guarded in SQL (the row must still be
in the state the caller saw), so concurrent workers and CLI processes cannot corrupt a job.
Time is the store's own clock: "now" is never passed in, only durations (a store opened with
a ``clock``, see open_store, reads that one instead: tests move it rather than sleep).

Errors: a method raises queuectl's errors only (storage/faults.py maps the driver's):
InvalidValue for a value the store cannot hold, StoreUnavailable for an outage (the store
cannot be reached, read or written right now: a full disk, a dropped connection...). After
StoreUnavailable a write may or may not have been committed (the answer may be what was
lost): the worker's calls are written to be safe either way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum

from queuectl.errors import LostLease, ScheduleNotFound
from queuectl.models import (
    Attempt,
    AttemptResult,
    CheckIn,
    GpuUse,
    Hook,
    IdlePlan,
    Job,
    JobSpec,
    Output,
    QueueChange,
    QueueInfo,
    QueueSettings,
    Rate,
    State,
    WorkerInfo,
)
from queuectl.records import record

# Names only annotations use: the schedules behind them (cronsim, zoneinfo) are imported by
# the cron commands and the pool, not by every enqueue or read.
TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any, ClassVar

    from queuectl.recurring import Cron, CronSpec
    from queuectl.snapshots import TreeFile
    from queuectl.storage.cron_flow import Fired
    from queuectl.transitions import Transition


# The fields of a waiting job that `edit` may change (Storage.edit), as Job names them.
EDITABLE_COLUMNS = ("command", "priority", "timeout", "max_retries", "queue", "cwd", "env",
                    "tags", "run_at", "run_at_fixed", "success_exit", "no_retry_exit",
                    "deadline", "expires_at", "gpus")


@record(frozen=True)
class Stats:
    """What `status` shows: counts per state, workers, paused queues and limits."""

    counts: dict[str, int]  # every State, zeros included
    scheduled: int  # pending jobs whose run_at is still in the future (and not blocked)
    workers_active: int  # workers not lost (as list_workers shows them)
    workers_busy: int
    blocked: int = 0  # pending jobs waiting on dependencies (not counted as scheduled)
    queues: tuple[QueueSettings, ...] = ()  # the paused or limited queues, by name
    held: int = 0  # pending or failed jobs that `hold` keeps from being claimed
    # The GPUs of the running pools started with --gpus, by host and index, each with the
    # job holding it (None: free).
    gpus: tuple[GpuUse, ...] = ()

    @property
    def paused_queues(self) -> list[str]:
        return [q.name for q in self.queues if q.paused]

    @property
    def queue_limits(self) -> dict[str, int]:
        return {q.name: q.limit for q in self.queues if q.limit is not None}

    @property
    def queue_rates(self) -> dict[str, str]:
        return {q.name: str(q.rate) for q in self.queues if q.rate is not None}

    def to_dict(self) -> dict[str, object]:
        return {
            "counts": dict(self.counts),
            "scheduled": self.scheduled,
            "blocked": self.blocked,
            "held": self.held,
            "workers": {"active": self.workers_active, "busy": self.workers_busy},
            "paused_queues": self.paused_queues,
            "queue_limits": self.queue_limits,
            "queue_rates": self.queue_rates,
            "gpus": [{"host": g.host, **g.to_dict()} for g in self.gpus],
        }


def gpus_of(workers: Sequence[WorkerInfo]) -> tuple[GpuUse, ...]:
    """The GPUs that ``workers`` own (a pool's workers share theirs), each once, by host
    and index."""
    found = {(g.host, g.gpu): g for worker in workers for g in worker.gpus}
    return tuple(found[key] for key in sorted(found))


class Keep(Enum):
    """A setting left as it is (queue_update's limit, where None means 'no limit')."""

    KEEP = "keep"


KEEP = Keep.KEEP


@record(frozen=True)
class AttemptRow:
    """One finished attempt as metrics read it."""

    job_id: str
    worker: str | None
    outcome: str | None
    started_at: datetime
    finished_at: datetime | None
    run_at: datetime | None  # when the job became due for this attempt (queue wait)


@record(frozen=True)
class Recovered:
    """A job taken back from a lost worker, and the state it went to."""

    job_id: str
    worker: str | None
    new_state: State


@record(frozen=True)
class Lost:
    """What a recovery pass decided: the lost workers and the jobs they hold, as read in
    one transaction that wrote nothing (``Storage.find_lost``). Whoever hands the jobs back
    (``Storage.hand_back``) may first kill what still runs of them: no lock is held."""

    dead: tuple[str, ...]  # workers whose process is gone (on this host)
    silent: tuple[str, ...]  # workers silent past the lease
    jobs: tuple[Job, ...]  # processing jobs to hand back, as claimed
    lease_ms: int | None  # the lease silence was judged by (None: not judged)

    @property
    def anything(self) -> bool:
        return bool(self.dead or self.silent or self.jobs)


NOTHING_LOST = Lost((), (), (), None)


class WakeSource(ABC):
    """A pool's one ear on the store (pool/relay.py routes what it hears to its workers):
    the store's wake-ups for every worker of the pool, behind descriptors to select() on.
    SQLite: a datagram socket per worker address (``watch``); PostgreSQL: one LISTEN
    connection, re-opened after a loss."""

    @abstractmethod
    def fds(self) -> list[int]:
        """The descriptors to select() on now (they may change between calls). Raises
        StoreUnavailable while the store cannot be listened to: call again later."""

    @abstractmethod
    def drain(self) -> set[str]:
        """Every pending event, without blocking: "work", "stop", "cancel", "config".
        After a loss and a re-listen: "work" (anything may have come meanwhile)."""

    def watch(self, worker_id: str) -> None:
        """Hear the wake-ups sent to worker ``worker_id`` from now on (before it registers).
        Default: nothing (every wake-up is heard whoever it is for)."""
        del worker_id

    def forget(self, worker_id: str) -> None:
        """Stop hearing ``worker_id``'s (it exited). Default: nothing."""
        del worker_id

    def after_fork(self) -> None:  # noqa: B027 - a hook most sources need not fill
        """In a worker forked by the pool: let go of what the worker must not hold, without
        disturbing the pool's own (a connection is left alone: closing it in the child
        would end it for the pool too). Default: nothing."""

    @abstractmethod
    def close(self) -> None:
        """Release what it holds. Safe to call twice."""


class ConnectionGate(ABC):
    """A pool's share of the server's connections (pool/gate.py), asked by a store that
    holds a connection the server counts (``Storage.server_connections``) before it opens
    one and told when it has closed it: a pool's workers then hold at most so many at once,
    whatever their number."""

    @abstractmethod
    def acquire(self) -> None:
        """Wait for one of the pool's connections to be free, and take it. Raises
        StoreUnavailable when none came free in time (the caller retries as for an outage)."""

    @abstractmethod
    def release(self) -> None:
        """Give back the connection taken (the store's is closed). Safe to call twice."""

    @abstractmethod
    def wanted(self) -> bool:
        """Whether another worker of the pool waits for a connection now (a store call
        then closes its own at the next pause, see Storage.release_connection)."""

    @abstractmethod
    def held_for(self) -> float:
        """Seconds since the connection held now was taken (0.0: none is held)."""

    @abstractmethod
    def refused(self) -> bool:
        """No connection could be had (the server refused one, its limit reached; or none
        of the pool's came free in time): whether this worker is the first of its pool to
        meet that since a connection last opened (it says so; the others stay quiet)."""

    @abstractmethod
    def opened(self) -> None:
        """A connection opened: the next refusal is news again."""


@record
class Listener:
    """A wake-up channel for one worker: a file descriptor to select() on.

    SQLite delivers wake-ups as datagrams on a Unix socket, PostgreSQL as NOTIFY messages;
    the worker only sees `fileno()` and `drain()`.
    """

    fd: int
    _drain: Callable[[], set[str]]
    _close: Callable[[], None]

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> set[str]:
        """Consume every pending wake-up; returns their payloads (may be empty)."""
        return self._drain()

    def close(self) -> None:
        self._close()


class Storage(ABC):
    """A persistent queue of shell jobs shared by any number of processes."""

    #: the store's URL with any password redacted; safe to print
    display_url: str

    #: whether a pool's supervisor should call ``checkpoint`` (False: the store folds what
    #: it writes ahead on its own, as a database server does; nothing is opened for it)
    wants_checkpoints: ClassVar[bool] = False

    #: whether an open store holds a connection the server counts against its limit (a
    #: PostgreSQL session): a pool then shares a few among its workers (ConnectionGate,
    #: release_connection); False: nothing to share (SQLite opens a file)
    server_connections: ClassVar[bool] = False

    # --- what a pool asks of the kind of store, before opening one -------------------------

    @classmethod
    @abstractmethod
    def pool_wakeups(cls, url: str) -> WakeSource:
        """A pool's wake-up source for the store at ``url`` (see WakeSource): opened lazily,
        so this neither connects nor raises; the supervisor calls it before it forks."""

    @classmethod
    @abstractmethod
    def log_identity(cls, url: str) -> tuple[str, str]:
        """(a short name for people, the store's identity) for the store at ``url``: the
        name of the file or database, and what tells apart two stores of one name (never
        a password). Pools of one store share their log file by these."""

    # --- lifecycle ---------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Release connections and sockets. Safe to call twice."""

    def release_connection(self) -> None:  # noqa: B027 - a hook most stores need not fill
        """Close the connection to the server now, if one is open (and give it back to the
        pool's ConnectionGate); the next call opens one again. A worker calls this when it
        will not need the store for a while (idle, or its job running while another worker
        waits for a connection). Nothing is lost: no transaction spans two calls. Default:
        nothing (a store without server connections)."""

    def checkpoint(self) -> int:
        """Fold what the store wrote ahead of its files into them, on the caller's time
        rather than a worker's (the pool's supervisor calls this). Returns how many pages
        were written ahead since the last call (0: nothing new). Here: nothing to do (a
        database server does its own)."""
        return 0

    # --- producing and reading jobs ------------------------------------------------------

    @abstractmethod
    def enqueue(self, specs: Sequence[JobSpec]) -> list[Job]:
        """Insert jobs in one transaction: all or nothing.

        Specs must be complete (max_retries resolved). A spec without id gets a fresh
        short id. Raises DuplicateJob naming the first id that exists (or repeats within
        ``specs``); nothing is inserted then. Wakes idle workers after commit.

        ``spec.after`` names jobs that must complete first: jobs of the store or of
        ``specs`` (in any order; the caller has refused cycles). A job with a dependency not
        completed yet is pending but never claimed until the last one completes (the
        transaction recording that completion releases it); one whose dependencies have
        all completed, or were purged after completing, is ready at once. Raises
        DependencyRefused (the job's index, the dependency) for a dependency that is
        unknown or cancelled; nothing is inserted then.

        ``spec.frozen`` (`enqueue --snapshot`) is the job's snapshot, stored in the same
        transaction: its tree's row and files (when given) and the contents given (by blob
        id), each kept once whatever trees and jobs share it. Raises SnapshotIncomplete
        when the tree is not stored whole after that (the caller said the store had what
        it did not send, and a purge forgot it meanwhile); nothing is inserted then.
        """

    def enqueue_ids(self, specs: Sequence[JobSpec]) -> list[str]:
        """``enqueue``, returning only the new ids (what `enqueue` prints without --json).

        A store may skip building the Job objects: a bulk file of 100,000 jobs spends
        ~0.15 s on them in SQLite."""
        return [job.id for job in self.enqueue(specs)]

    @abstractmethod
    def snapshot_stored(self, snapshot_id: str) -> bool:
        """Whether the snapshot of git tree ``snapshot_id`` is stored whole (every file,
        every content): a job may then name it without sending it again."""

    @abstractmethod
    def snapshot_blobs_missing(self, blob_ids: Sequence[str]) -> set[str]:
        """Which of the git blob ids ``blob_ids`` the store keeps no content for."""

    @abstractmethod
    def snapshot_files(self, snapshot_id: str) -> list[TreeFile]:
        """The files of stored snapshot ``snapshot_id``, by path (none: not stored)."""

    @abstractmethod
    def snapshot_blobs(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """The contents of the blobs ``blob_ids`` the store keeps, by id."""

    @abstractmethod
    def get_job(self, job_id: str) -> Job | None:
        """The job, or None. Jobs read for people (get_job, list_jobs, enqueue, cancel,
        retry_dead) carry ``after`` and ``waiting_for``; a claimed job does not."""

    @abstractmethod
    def dependents(self, job_id: str) -> list[str]:
        """Ids of the jobs that run after ``job_id`` (any state), oldest first."""

    @abstractmethod
    def list_jobs(
        self,
        state: State | None = None,
        queue: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        id_contains: str | None = None,
        cron: str | None = None,
        tags: Sequence[str] = (),
        search: str | None = None,
        window: int | None = None,
    ) -> list[Job]:
        """Jobs newest first, optionally filtered (``cron``: enqueued by that schedule;
        ``tags``: holding every one; ``search``: a case-insensitive substring of the id or
        the command); ``limit=None`` for all. ``window``: with ``tags`` or ``search``,
        only the newest ``window`` jobs of the store (by insertion order) are looked at
        (None: all of them), so that a search matching nothing costs no full scan; see
        ``beyond_window``."""

    @abstractmethod
    def beyond_window(self, state: State | None = None, queue: str | None = None,
                      cron: str | None = None, *, window: int) -> bool:
        """Whether jobs older than the newest ``window`` of the store match ``state``,
        ``queue`` and ``cron``: a ``list_jobs`` search in that window did not see them."""

    @abstractmethod
    def attempts(self, job_id: str) -> list[Attempt]:
        """Every attempt of the job, oldest first (the attempts log)."""

    @abstractmethod
    def stats(self) -> Stats:
        """Counts per state, scheduled jobs and live workers, in one consistent read."""

    # --- the worker's side ---------------------------------------------------------------

    @abstractmethod
    def claim(self, worker_id: str, queues: Sequence[str] | None = None) -> Job | None:
        """Atomically take the best ready job (priority desc, run_at, insertion order).

        Marks it processing for ``worker_id`` (attempt number ``job.last_attempt`` is running: it is
        in `attempts` from now on, though the stores write its row only when it ends) and
        returns the job, or None when nothing is ready. Never hands one attempt to two
        workers. Only a registered worker claims: None while its row is gone (taken for
        lost), until it registers again. A claim whose answer is lost is reported to the
        worker by ``heartbeat`` (``CheckIn.also_held``).
        """

    @abstractmethod
    def seconds_until_due(self, queues: Sequence[str] | None = None) -> float | None:
        """Seconds until the earliest waiting job of ``queues`` (all when empty) is due; 0 if
        one is due now, None if none waits. Idle workers sleep that long, no longer."""

    def idle_plan(self, queues: Sequence[str] | None = None) -> IdlePlan:
        """What an idle worker of ``queues`` plans its sleep by (``seconds_until_due``,
        ``cron_seconds_until_tick``), in one read where the store can."""
        return IdlePlan(self.seconds_until_due(queues), self.cron_seconds_until_tick())

    def claim_or_plan(self, worker_id: str, queues: Sequence[str] | None = None
                      ) -> Job | IdlePlan:
        """``claim``, and when it takes nothing, ``idle_plan(queues)``: a store that reads
        the plan in the claim's own transaction spares a worker woken for a job that another
        took a second transaction (SQL stores do; this default makes two calls)."""
        return self.claim(worker_id, queues) or self.idle_plan(queues)

    @abstractmethod
    def claim_gpus(self, worker_id: str, host: str, gpus: Sequence[int],
                   queues: Sequence[str] | None = None) -> Job | IdlePlan:
        """``claim_or_plan`` for a worker of a pool that owns ``gpus`` (GPU indexes of host
        ``host``, registered with the worker): first the best ready job asking for at most
        as many GPUs as are free among ``gpus`` (no running attempt on the host holds them),
        given the lowest free ones (``gpus_assigned`` of the job returned), then, if none
        fits, the ordinary claim. The GPUs are read and given in the claim's transaction,
        serialized per host, so no GPU is ever given to two running attempts of a host,
        whatever pools share it; the end of the attempt (finish, recovery, a cancel once its
        process has ended) frees them. The plan, when nothing is taken, counts the GPU jobs
        due later too.

        Why the store keeps the host's GPU table (rows of host id and GPU index, each with
        the attempt last given it): several pools of one host may own the same GPUs, and
        only the store's transaction sees every pool's claims at once (a lock file would
        not reach a pool's recovery on another host, nor be released by a killed one). A
        GPU counts as busy exactly while the attempt given it runs, read from the job's
        row: no end of an attempt (a pool killed with SIGKILL above all) has a write of
        its own to miss. A job asking for GPUs counts one more in ``blocked_by``, so the
        ordinary claim never sees it and costs what it did."""

    @abstractmethod
    def finish(
        self, job: Job, worker_id: str, result: AttemptResult, step: Transition
    ) -> Job:
        """Record the end of the attempt opened by ``claim`` and move the job as ``step``
        says: the caller computed it (transitions.after_attempt, pure) from the job as
        claimed; the store applies it, guarded in its own transaction, and calls nothing
        back. ``step.delay_ms`` counts from the store's now. The output is stored with the
        attempt. Raises
        LostLease if the job is no longer processing for this worker (it was cancelled or
        recovered meanwhile); the attempt is recorded all the same, unless a recovery has
        already closed it as lost.
        """

    @abstractmethod
    def save_output(self, job_id: str, attempt: int, data: bytes, dropped: int) -> None:
        """Store the output captured so far by a running attempt (the tail, and bytes cut)."""

    @abstractmethod
    def read_output(self, job_id: str, attempt: int | None = None) -> Output | None:
        """Output of the given attempt (default: the latest); None if there is no attempt."""

    @abstractmethod
    def register_worker(self, info: WorkerInfo) -> None:
        """Announce a live worker (its heartbeat starts now). A worker of a pool with GPUs
        (``info.gpus``) adds them to its host's GPU table, once each."""

    @abstractmethod
    def unregister_worker(self, worker_id: str) -> None:
        """Remove a worker that exits cleanly."""

    @abstractmethod
    def heartbeat(self, worker_id: str, job: Job | None) -> CheckIn:
        """Prove liveness; returns what the store asks of the worker and what it holds
        (``job``: the attempt it runs, as claimed). Whether a worker is busy, and with what,
        the store reads from the jobs it holds.

        Whether the worker still holds ``job`` is read from the job's row alone: it must be
        processing for this worker under this attempt number (``job.last_attempt``); else
        ``job_lost`` (cancelled, or recovered and maybe running elsewhere). If the worker's
        own row is gone (it was taken for lost), nothing is written and ``lost`` is set: the
        worker registers again before it claims anything, and keeps ``job`` unless
        ``job_lost``. ``also_held``: another job whose row names this worker. ``config``:
        the stored config, as ``config_items`` would return it."""

    @abstractmethod
    def check_in(self, worker_id: str, job: Job | None) -> CheckIn:
        """``heartbeat`` without the heartbeat: a read only."""

    @abstractmethod
    def track_clock(self, boot_id: str, boot_ms: Callable[[], int]) -> int:
        """Find and correct a step of the store's clock (the SQLite store's process clock,
        PostgreSQL's server clock) since this boot's last reading; returns the step in ms
        (positive: forward; 0: none).

        ``boot_id`` names the host's boot (hostinfo.boot_id; "" where unknown: nothing is
        done) and ``boot_ms()`` reads its clock that never steps (CLOCK_BOOTTIME, ms).
        When the store's clock moved further or less far than that one since the boot's
        last reading, beyond drift, the times counted from when they were written move by
        the step, in one transaction: workers' heartbeats and claims, due times of jobs
        but those given as a wall-clock time (``--run-at``), ``every`` schedules' next
        runs, and the other boots' readings, so that no other pool corrects it again.
        Pools call it in their recovery passes, before judging silence."""

    @abstractmethod
    def find_lost(self, lease_timeout: float, *, judge_silence: bool = True) -> Lost:
        """The lost workers and the jobs they hold, decided in one transaction that is
        committed (writing nothing) before this returns: those whose process is gone (on
        this host), and those silent for ``lease_timeout`` seconds, by the store's clock.

        A worker's last sign of life is its heartbeat or its latest claim, whichever came
        later, and a job whose worker's row is gone is lost only once its claim is older
        than the lease: a live worker that holds a job under its current attempt is never
        taken for lost. ``judge_silence=False``: only workers whose process is gone (the
        caller has not watched the store work for a whole lease, so a silence may be an
        outage that it shared). The jobs stay processing, so nobody claims them until
        ``hand_back``: the caller kills what still runs of them in between, holding no lock.
        """

    @abstractmethod
    def hand_back(self, lost: Lost, steps: Sequence[Transition]) -> list[Recovered]:
        """Hand back ``lost.jobs`` (``steps[i]`` is where ``lost.jobs[i]`` goes, computed by
        the caller for a WORKER_LOST attempt: transitions.after_attempt), ending each open
        attempt as WORKER_LOST ("worker lost"), and remove the lost workers' rows; in one
        transaction. What ``find_lost`` decided is judged again there: a job or worker no
        longer lost (a heartbeat came meanwhile) is left as it is, and what became lost
        since waits for the next pass. Safe to run from many workers at once."""

    @abstractmethod
    def listener(self, worker_id: str) -> Listener:
        """A wake-up channel for this worker: new work, a stop request, a cancel."""

    # --- user operations -----------------------------------------------------------------

    @abstractmethod
    def cancel(self, job_ids: Sequence[str]) -> list[Job]:
        """Cancel jobs (all or nothing): pending/failed/processing → cancelled.

        Raises JobNotFound / WrongState for the first id that cannot be cancelled; then
        nothing changes. The workers running cancelled jobs are woken to kill them. Jobs
        waiting on a cancelled job, directly or not, are cancelled too in the same
        transaction, with last_error "dependency 'ID' cancelled" (not returned).
        """

    @abstractmethod
    def retry_dead(self, job_ids: Sequence[str] | None) -> list[Job]:
        """Dead jobs back to pending with attempts 0, due now; ``None`` means every dead job.

        All or nothing: a job that is not dead raises WrongState with its state, one whose
        unique key another job holds raises UniqueKeyTaken. With ``None``, such jobs stay
        dead instead (of several dead jobs with one key, the first comes back).
        """

    @abstractmethod
    def purge(self, states: Sequence[State], older_than: float) -> int:
        """Delete jobs in final ``states`` finished more than ``older_than`` seconds ago,
        with their attempts and output, except those a waiting job still needs (a dead
        dependency). Returns how many jobs were deleted."""

    @abstractmethod
    def match_jobs(
        self, states: Sequence[str], *, after: int = 0, limit: int = 1000,
        held: bool | None = None, queue: str | None = None, tags: Sequence[str] = (),
        search: str | None = None, older_than: float | None = None, unneeded: bool = False,
    ) -> list[tuple[int, str]]:
        """(seq, id) of the jobs in ``states`` past seq ``after``, in seq order, at most
        ``limit``: one batch of a bulk action. Filters as list_jobs'; ``held`` (None:
        either); ``older_than``: last changed more than that many seconds ago;
        ``unneeded``: none that a waiting job still needs (as ``remove`` refuses)."""

    @abstractmethod
    def hold(self, job_ids: Sequence[str]) -> list[Job]:
        """Hold waiting jobs (pending, failed; all or nothing): they keep their state and
        are never claimed until released. Raises JobNotFound, WrongState (not waiting) or
        AlreadyHeld for the first id that cannot be held; then nothing changes."""

    @abstractmethod
    def release(self, job_ids: Sequence[str]) -> list[Job]:
        """Release held jobs (all or nothing): claimable again when due; idle workers are
        woken. Raises JobNotFound or WrongState (not held) for the first id that cannot be
        released; then nothing changes."""

    @abstractmethod
    def edit(self, job_id: str, changes: Mapping[str, Any]) -> Job:
        """Change the fields of a waiting job (pending or failed) in one guarded statement,
        so that a claim takes either the job as it was or the edited one, whole.
        ``changes``: job field -> new value, any of EDITABLE_COLUMNS (``run_at`` a datetime,
        ``run_at_fixed`` with it; ``env`` and ``tags`` replace the whole mapping / list,
        None or empty clearing them; ``timeout`` None: no limit). Fields not named keep
        their values. Idle workers are woken (the job may be due sooner). Raises
        JobNotFound, or WrongState for a job that is not pending or failed; then nothing
        changes."""

    @abstractmethod
    def remove(self, job_ids: Sequence[str]) -> list[str]:
        """Delete ended jobs (completed, dead, cancelled) with their attempts and output,
        all or nothing; the ids deleted, in the order given (each once).

        Raises JobNotFound, WrongState (a job not ended) or JobNeeded (a waiting job still
        needs it) for the first id that cannot go; then nothing is deleted."""

    @abstractmethod
    def prune_finished(self, older_than: float, limit: int) -> int:
        """Retention: delete at most ``limit`` jobs that finished (completed, dead,
        cancelled) more than ``older_than`` seconds ago, with their attempts and output, in
        one short transaction; returns how many went (fewer than ``limit``: none is left).
        Finding them takes no lock, so a batch holds the store only while it deletes.
        Safe to run from many workers at once. A job that a waiting job depends on is kept."""

    @abstractmethod
    def start_deadline(self, job: Job, worker_id: str) -> datetime | None:
        """As the first attempt of a job with a ``deadline`` starts (``job`` as claimed,
        without ``deadline_at``): set when the deadline passes (its start + the deadline)
        and return it; None when the job is no longer this attempt of ``worker_id``'s."""

    @abstractmethod
    def end_unstarted(self, job: Job, worker_id: str, state: State, error: str) -> bool:
        """End a claimed job that must not start (``job`` as claimed): to ``state``
        (cancelled or dead) with last_error ``error``, no attempt recorded (its number is
        given back); a cancel cancels what waits on it, as ``cancel`` does. Guarded: False
        when the job is no longer this attempt of ``worker_id``'s."""

    @abstractmethod
    def snooze(self, job_id: str, attempt: int, max_snoozes: int) -> int:
        """Count a snooze asked by attempt ``attempt`` of running job ``job_id``; returns
        its snoozes so far. Raises JobNotFound, WrongState (not running, or running another
        attempt), or InvalidValue when it has snoozed ``max_snoozes`` times; nothing is
        written then."""

    @abstractmethod
    def expire_jobs(self, limit: int) -> list[str]:
        """Cancel at most ``limit`` waiting (pending, failed) jobs whose ``expires_at`` has
        come, with last_error ``expired``, and what waits on them, in one short
        transaction; returns their ids. Finding them takes no lock; safe from many workers
        at once."""

    @abstractmethod
    def hook_add(self, hook: Hook, replace: bool = False) -> bool:
        """Store ``hook``; False (nothing written) when its name is taken and not
        ``replace``."""

    @abstractmethod
    def hooks(self) -> list[Hook]:
        """Every hook, by name."""

    @abstractmethod
    def hook_remove(self, name: str) -> bool:
        """Delete hook ``name``; False when there is none."""

    @abstractmethod
    def request_stop(self) -> list[str]:
        """Ask every registered worker to stop after its current job; returns their ids."""

    @abstractmethod
    def list_workers(self) -> list[WorkerInfo]:
        """Registered workers, oldest first, each with the state every reader shows:
        ``idle``, ``busy``, or ``lost`` (silent past the lease by the store's clock, or its
        process gone on this host: see liveness.is_lost)."""

    @abstractmethod
    def config_items(self) -> dict[str, str]:
        """Stored config values (canonical key → text); defaults are not stored."""

    @abstractmethod
    def config_set(self, key: str, value: str) -> None:
        """Store one validated config value; every worker sees it on its next read."""

    def finish_and_claim(
        self, job: Job, worker_id: str, result: AttemptResult, step: Transition,
        queues: Sequence[str] | None = None,
    ) -> tuple[Job | None, Job | IdlePlan]:
        """``finish`` this attempt, then ``claim_or_plan``: (the finished job, or None where
        ``finish`` would raise LostLease; the next job, or when none is claimable the plan,
        read after the finish, so it counts this job's retry and the dependents it released).

        A worker with nothing else to do between jobs calls this. A store may do both in one
        transaction (one commit per job instead of two); this default just calls the two.
        """
        try:
            done: Job | None = self.finish(job, worker_id, result, step)
        except LostLease:
            done = None
        return done, self.claim_or_plan(worker_id, queues)

    # --- queues -------------------------------------------------------------------------

    @abstractmethod
    def queue_settings(self) -> list[QueueSettings]:
        """The paused or limited queues, by name."""

    @abstractmethod
    def queue_update(
        self, name: str, *, paused: bool | None = None, limit: int | None | Keep = KEEP,
        rate: Rate | None | Keep = KEEP, window: tuple[str, str] | None | Keep = KEEP,
    ) -> QueueChange:
        """Change one queue's settings in one transaction: ``paused`` (None: as it is),
        ``limit`` (a number >= 0, None to remove it, KEEP: as it is), ``rate`` (None to
        remove it, KEEP: as it is), ``window`` ((spec, IANA zone), both checked: see
        windows.py; None to remove it, KEEP: as it is). Every pool sees the
        change at once (idle workers are woken: a resume or a raised limit makes jobs
        claimable). Raises InvalidValue for a negative limit; nothing is written then."""

    @abstractmethod
    def store_now(self) -> datetime:
        """The store's clock now (PostgreSQL: the server's), as an aware UTC datetime: what
        a claim judges a window by."""

    @abstractmethod
    def queue_windows_refresh(self) -> int:
        """Work out the next open stretch of every queue whose window's stretch has ended
        (a worker's housekeeping, when the idle plan's tick says); how many it moved on."""

    @abstractmethod
    def mutex_holder(self, name: str) -> str | None:
        """The id of the job that holds mutex ``name`` now (running, or cancelled while it
        ran and not ended yet); None when it is free."""

    @abstractmethod
    def queue_overview(self) -> list[QueueInfo]:
        """Every queue that has jobs or settings, by name: counts per state and settings."""

    @abstractmethod
    def finished_attempts(self, since: datetime) -> list[AttemptRow]:
        """Attempts that ended at or after ``since`` (for metrics), oldest first."""

    @abstractmethod
    def dead_since(self, since: datetime) -> int:
        """How many jobs went dead at or after ``since``."""

    # --- recurring jobs (cron) -------------------------------------------------------------
    # One job per tick whatever the number of pools: see storage/cron_flow.py. Every change
    # wakes the idle workers of every pool (as an enqueue does), so they plan their sleep
    # around the new ticks at once.

    @abstractmethod
    def cron_add(self, spec: CronSpec, replace: bool = False) -> Cron:
        """Store a validated schedule, its first tick the first after now. Raises
        DuplicateSchedule when the name is taken (unless ``replace``: the new definition
        then takes its place, running, its ticks planned afresh); nothing is written then."""

    @abstractmethod
    def cron_list(self, name: str | None = None) -> list[Cron]:
        """Every schedule by name (or only ``name``), with its latest job and its state."""

    def cron_get(self, name: str) -> Cron:
        """The schedule ``name``; raises ScheduleNotFound."""
        found = self.cron_list(name)
        if not found:
            raise ScheduleNotFound(name)
        return found[0]

    @abstractmethod
    def cron_remove(self, name: str) -> None:
        """Delete the schedule and its skipped ticks (its jobs stay). Raises
        ScheduleNotFound."""

    @abstractmethod
    def cron_set_paused(self, name: str, paused: bool) -> Cron:
        """Pause (no tick fires) or resume (the next tick is the first after now: missed
        ticks are not run). Raises ScheduleNotFound."""

    @abstractmethod
    def cron_run_now(self, name: str) -> Job:
        """Enqueue one job of the schedule now, outside its ticks (id ``NAME@run-XXXX``).
        Raises ScheduleNotFound."""

    @abstractmethod
    def cron_judge_overdue(self) -> list[str]:
        """Mark the overdue episodes of the schedules with --alert-after (judged by the
        store's clock): an episode begins (cron_schedules.overdue_since) when a schedule is
        found overdue, once whatever the number of pools, and ends when a success has
        finished since it began. Returns the schedules whose episode THIS call began."""

    @abstractmethod
    def cron_judge_suspects(self) -> list[str]:
        """Judge the schedules' completed jobs not judged yet (each once, whatever the
        number of pools): a run far shorter or quieter than the schedule's previous ones
        (recurring.suspect_reason) is flagged suspect. Returns the jobs THIS call flagged."""

    @abstractmethod
    def cron_suspects(self, name: str, limit: int = 20) -> list[tuple[str, str]]:
        """The schedule's latest suspect successes, newest first: (job id, reason)."""

    @abstractmethod
    def cron_backfill(self, name: str, start: datetime, end: datetime) -> list[str]:
        """Enqueue one job for each tick of the schedule from ``start`` to ``end`` (both
        included), id ``NAME@<tick>``, skipping ticks that have a job; returns the new ids,
        oldest first. One transaction. Raises ScheduleNotFound, or InvalidValue (nothing
        written) for a range of over schedules.MAX_BACKFILL ticks."""

    @abstractmethod
    def cron_skipped(self, name: str, limit: int = 20) -> list[datetime]:
        """The schedule's latest ticks skipped because its previous job was unfinished,
        newest first (the latest recurring.SKIPPED_KEPT are kept)."""

    @abstractmethod
    def cron_seconds_until_tick(self) -> float | None:
        """Seconds until the earliest tick of a running schedule (0: one is due), None if
        none is planned. Idle workers sleep no longer than this."""

    @abstractmethod
    def cron_fire(self, worker_id: str | None = None) -> list[Fired]:
        """Fire every schedule whose tick has come: one job for each tick a pool saw come
        (fired late by under a lease, as a loaded pool does), else at most one (the latest
        missed tick, or none, after downtime); ``worker_id``, the worker firing, saw the
        ticks that came since it started. A skipped tick is recorded when the previous job
        is unfinished (--overlap skip). Safe from any number of processes at once: each
        tick enqueues exactly once. Returns what this call did (not what others did)."""


def change_queue_settings(
    before: QueueSettings, paused: bool | None, limit: int | None | Keep,
    rate: Rate | None | Keep = KEEP, window: tuple[str, str] | None | Keep = KEEP,
) -> QueueSettings:
    """``before`` with queue_update's changes applied; InvalidValue for a limit out of range
    (checked before any store writes it)."""
    from queuectl.errors import InvalidValue

    if isinstance(limit, int) and not 0 <= limit <= MAX_QUEUE_LIMIT:
        raise InvalidValue(
            f"invalid limit {limit} for queue {before.name!r}: must be between 0 and "
            f"{MAX_QUEUE_LIMIT} (or none)"
        )
    return QueueSettings(
        before.name,
        before.paused if paused is None else paused,
        before.limit if isinstance(limit, Keep) else limit,
        before.rate if isinstance(rate, Keep) else rate,
        *((before.window, before.window_tz) if isinstance(window, Keep)
          else (None, None) if window is None else window),
    )


MAX_QUEUE_LIMIT = 2**31 - 1  # what every store keeps in an integer column


def refuse_repeated_ids(ids: Sequence[str]) -> None:
    """Raise DuplicateJob for the first id that a batch repeats."""
    from queuectl.errors import DuplicateJob

    if len(set(ids)) == len(ids):
        return
    seen: set[str] = set()
    for job_id in ids:
        if job_id in seen:
            raise DuplicateJob(job_id)
        seen.add(job_id)
