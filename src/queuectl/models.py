"""Pure data: jobs, attempts, workers and how an attempt ended. No I/O here."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from queuectl.records import field, record

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from queuectl.snapshots import Frozen, Snapshot


class State(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


# A job in one of these states never runs again unless a user acts (dlq retry).
FINAL_STATES = frozenset({State.COMPLETED, State.DEAD, State.CANCELLED})
# States a worker may claim from (when run_at has come).
READY_STATES = frozenset({State.PENDING, State.FAILED})


class Outcome(StrEnum):
    """How one attempt ended; kept apart from the job's state (pueue's TaskResult)."""

    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit code
    KILLED = "killed"  # ended by a signal nobody in queuectl sent
    TIMED_OUT = "timed_out"  # exceeded its timeout; queuectl killed the process group
    NOT_STARTED = "not_started"  # could not be spawned (missing cwd, exec error)
    CANCELLED = "cancelled"  # a user cancelled the job while it ran
    INTERRUPTED = "interrupted"  # worker shut down hard; job handed back for retry
    WORKER_LOST = "worker_lost"  # the worker stopped heartbeating; recovered by another


WORKER_LOST_ERROR = "worker lost"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """UTC ISO 8601 with milliseconds and a trailing Z: 2026-11-22T14:03:07.123Z."""
    if ts is None:
        return None
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def from_ms(ms: int | None) -> datetime | None:
    """Epoch milliseconds (how stores keep time) to an aware UTC datetime."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(ts: datetime) -> int:
    return int(round(ts.timestamp() * 1000))


@record(frozen=True)
class JobSpec:
    """What a user asks for; defaults still to be resolved against the config."""

    command: str
    id: str | None = None
    max_retries: int | None = None
    priority: int = 0
    timeout: float | None = None  # None: take job-timeout from config at enqueue
    queue: str = "default"
    cwd: str = "/"
    env: dict[str, str] | None = None
    run_at: datetime | None = None  # None: now, by the store's clock
    # run_at is a time on the wall clock (--run-at), which a step of the clock leaves where
    # it is; otherwise (--delay) it counts from now, and moves with a step.
    run_at_fixed: bool = False
    after: tuple[str, ...] = ()  # ids of jobs that must complete before this one runs
    # At most one job with this key is pending, failed or processing: enqueueing
    # another gives back the one there is.
    unique_key: str | None = None
    rerun_of: str | None = None  # the ended job `rerun` made this one from
    held: bool = False  # `enqueue --hold`: never claimed until released
    tags: tuple[str, ...] = ()  # `enqueue --tag`: what `list --tag` finds it by
    mutex: str | None = None  # `enqueue --mutex`: at most one job holding it runs at once
    gpus: int | None = None  # `enqueue --gpus N`: runs only in a pool with N of its GPUs free
    # With a unique key: what a duplicate does to the waiting job holding the key ("keep":
    # nothing; "replace": its fields become this job's), and `--debounce` (ms: the job is
    # due that long after the latest enqueue of its key). Not stored.
    on_duplicate: str = "keep"
    debounce_ms: int | None = None
    # Exit codes that also count as success, and those that go dead at once: integers and
    # "lo-hi" strings, as given (exitcodes.py).
    success_exit: tuple[int | str, ...] = ()
    no_retry_exit: tuple[int | str, ...] = ()
    deadline: float | None = None  # seconds from the first attempt's start over all attempts
    expires_at: datetime | None = None  # never started after this: cancelled as `expired`
    after_any: tuple[str, ...] = ()  # jobs that must end, in any state, before this one runs
    after_failure: tuple[str, ...] = ()  # jobs that must end dead or cancelled first
    # `enqueue --snapshot`: run in a copy of the tracked files of cwd's git work tree as
    # they are at enqueue; ``frozen`` is that copy on its way to the store (app/snapshot.py).
    snapshot: bool = False
    frozen: Frozen | None = None


@record(frozen=True)
class Job:
    """A job as a store holds it: the fields of its ``--json`` document as attributes.

    Times are timezone-aware UTC datetimes; ``timeout`` is in seconds (None: no limit);
    ``state`` is a State (a str). ``to_dict()`` is the job's ``--json`` document. Frozen:
    a Job is a snapshot, read again (``Queue.get``) to see it move on."""

    id: str
    command: str
    state: State
    attempts: int
    max_retries: int
    priority: int
    timeout: float | None
    queue: str
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    last_error: str | None = None
    worker: str | None = None
    cwd: str = "/"
    env: dict[str, str] | None = None
    last_attempt: int = 0  # number of the latest attempt started; dlq retry keeps counting
    cron: str | None = None  # the schedule (`cron add`) that enqueued it
    unique_key: str | None = None
    # Not stored: set on the job an enqueue gave back instead of a new one (its unique key
    # was taken by this job, still pending, failed or processing).
    duplicate: bool = False
    # The attempts log, oldest first, on a job read with its history (`show`, Queue.get);
    # None on one read without it (`list`, `enqueue`), whose document has no such key.
    attempts_log: tuple[Attempt, ...] | None = None
    # Dependencies, as given and those not completed yet (empty unless the store read them:
    # a worker's claimed job does not carry them).
    after: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()
    # The jobs that run after this one, on a job read with its history (`show`, Queue.get);
    # None on one read without it.
    dependents: tuple[str, ...] | None = None
    rerun_of: str | None = None  # the ended job `rerun` made this one from
    held: bool = False  # `hold`: pending or failed, and never claimed until released
    tags: tuple[str, ...] = ()  # `enqueue --tag`: what `list --tag` finds it by
    mutex: str | None = None  # `enqueue --mutex`: at most one job holding it runs at once
    gpus: int | None = None  # `enqueue --gpus N`: GPUs it runs with (None: none)
    # The GPU indexes its latest attempt was given (None: not run with GPUs yet).
    gpus_assigned: tuple[int, ...] | None = None
    success_exit: tuple[int | str, ...] = ()  # `--success-exit`: these exits complete it too
    no_retry_exit: tuple[int | str, ...] = ()  # `--no-retry-exit`: these exits go dead at once
    deadline: float | None = None  # `--deadline`: seconds from the first attempt's start
    expires_at: datetime | None = None  # `--expires`: not started by then, never started
    # When the deadline passes: set as the first attempt starts (None: not started yet, or
    # no deadline). Not in the job's JSON.
    deadline_at: datetime | None = None
    snoozes: int = 0  # `queuectl snooze`s that sent it back without spending a retry
    # Dependencies by outcome (as ``after``: empty unless the store read them): jobs that
    # must have ended in any way, and jobs that must have ended dead or cancelled.
    after_any: tuple[str, ...] = ()
    after_failure: tuple[str, ...] = ()
    # A hook's job: {"name": the hook, "event": what happened, "job": the job it happened
    # to}, and "cron": the schedule, for a schedule's events (an `overdue` event's job is
    # the schedule's latest, null before its first); None for any other job.
    hook: dict[str, str | None] | None = None
    # `enqueue --snapshot`: the frozen code every attempt runs in a fresh copy of (None:
    # the job runs in cwd itself).
    snapshot: Snapshot | None = None
    # Not stored: what holds a waiting job back beside a worker ("waiting for 2 free GPUs",
    # "queue paused"...), on a job read with its history (`show`, Queue.get); None there
    # when nothing does (documents.held_back).
    held_back: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job's ``--json`` document (``show --json`` when read with its attempts)."""
        doc = {
            "id": self.id,
            "command": self.command,
            "state": str(self.state),
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "priority": self.priority,
            "timeout": self.timeout,
            "queue": self.queue,
            "run_at": iso(self.run_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "exit_code": self.exit_code,
            "last_error": self.last_error,
            "worker": self.worker,
            "cwd": self.cwd,
            "env": self.env or {},
            "cron": self.cron,
            "after": list(self.after),
            "waiting_for": list(self.waiting_for),
            "unique_key": self.unique_key,
            "rerun_of": self.rerun_of,
            "held": self.held,
            "tags": list(self.tags),
            "mutex": self.mutex,
            "gpus": self.gpus,
            "gpus_assigned": None if self.gpus_assigned is None else list(self.gpus_assigned),
            "success_exit": list(self.success_exit),
            "no_retry_exit": list(self.no_retry_exit),
            "deadline": self.deadline,
            "expires_at": iso(self.expires_at),
            "snoozes": self.snoozes,
            "after_any": list(self.after_any),
            "after_failure": list(self.after_failure),
            "hook": dict(self.hook) if self.hook else None,
            "snapshot": self.snapshot.to_dict() if self.snapshot else None,
        }
        if self.dependents is not None:
            doc["dependents"] = list(self.dependents)
        if self.attempts_log is not None:
            doc["attempts_log"] = [attempt.to_dict() for attempt in self.attempts_log]
            doc["held_back"] = self.held_back
        return doc


# A worker builds two Jobs per job it runs (the claimed one, read from its row, and the
# finished one). Job's own __init__ sets each field through object.__setattr__ (frozen, as
# a dataclass's does), a call per field; these fill the instance's __dict__ in one
# dict.update instead (bench/RESULTS.md: instructions per job of the store path).
JOB_FIELDS: tuple[str, ...] = Job.__match_args__  # every field, in declaration order
_JOB_FIELD_SET = frozenset(JOB_FIELDS)
_new = object.__new__
_set_dict = object.__setattr__


def job_from_values(values: Sequence[Any]) -> Job:
    """A Job from the value of every field, in JOB_FIELDS order (the defaults too), as
    Job(*values) would make it. Raises ValueError for a wrong number of values."""
    if len(values) != len(JOB_FIELDS):
        raise ValueError(f"a Job has {len(JOB_FIELDS)} fields, got {len(values)} values")
    job: Job = _new(Job)
    job.__dict__.update(zip(JOB_FIELDS, values))  # noqa: B905 - lengths checked above
    return job


def job_from_fields(fields: dict[str, Any]) -> Job:
    """A Job whose instance dict is ``fields`` (taken, not copied): field names to values,
    the fields left out read as their defaults (the class's attributes). No check: for the
    stores' hot paths, which name fields they know (rows.claimed_job)."""
    job: Job = _new(Job)
    _set_dict(job, "__dict__", fields)
    return job


def replaced_job(job: Job, **changes: Any) -> Job:
    """dataclasses.replace(job, **changes), faster. Raises TypeError for an unknown field."""
    if not _JOB_FIELD_SET.issuperset(changes):
        unknown = sorted(set(changes) - _JOB_FIELD_SET)[0]
        raise TypeError(f"Job has no field {unknown!r}")
    new: Job = _new(Job)
    fields = new.__dict__
    fields.update(job.__dict__)
    fields.update(changes)
    return new


@record(frozen=True)
class Attempt:
    """One attempt of a job, as `show` lists it: times aware UTC, ``outcome`` how it ended
    (None while it runs), ``error`` why it failed."""

    job_id: str
    number: int
    worker: str | None
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    outcome: Outcome | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "worker": self.worker,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "exit_code": self.exit_code,
            "outcome": str(self.outcome) if self.outcome else None,
            "error": self.error,
        }


# The job events, then a schedule's (`overdue`: its overdue episode began; `suspect`: one of
# its successes was flagged suspect).
HOOK_EVENTS = ("completed", "failed", "dead", "cancelled", "lost", "overdue", "suspect")


@record(frozen=True)
class Hook:
    """A hook (`hook add`): when a job (of ``queue``, of schedule ``cron``, when given)
    meets one of ``on``, a job running ``command`` in ``cwd`` is enqueued in queue
    `hooks`, in the same transaction."""

    name: str
    on: tuple[str, ...]
    command: str
    queue: str | None = None
    cron: str | None = None
    cwd: str = "/"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "on": list(self.on), "command": self.command,
                "queue": self.queue, "cron": self.cron}


@record(frozen=True)
class AttemptResult:
    """What the runner reports about one finished attempt."""

    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None
    output: bytes = b""
    output_dropped: int = 0  # bytes cut from the front to honour max-log-bytes


@record(frozen=True)
class Output:
    """Captured output of one attempt, as stored (the tail, and what was cut)."""

    job_id: str
    attempt: int
    data: bytes
    dropped: int
    finished: bool  # the attempt has ended: no more bytes will come

    def to_dict(self) -> dict[str, Any]:
        """The `logs --json` document; bytes that are not UTF-8 are shown as U+FFFD."""
        return {"job_id": self.job_id, "attempt": self.attempt, "finished": self.finished,
                "dropped_bytes": self.dropped, "output": self.data.decode("utf-8", "replace")}


@record
class WorkerInfo:
    """A registered worker as the store holds it (`worker list`)."""

    id: str
    host: str
    pid: int
    state: str  # idle | busy, or lost as the store's readers show it (list_workers)
    current_job: str | None
    started_at: datetime
    heartbeat_at: datetime
    queues: list[str] = field(default_factory=list)
    # The boot and PID namespace its pid belongs to (hostinfo.pid_scope); "" if unknown.
    pid_scope: str = ""
    # `worker start --gpus`: its pool's GPUs (indexes on its host), each with the job whose
    # running attempt holds it (None: free). Empty: a pool without GPUs.
    gpus: list[GpuUse] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "state": self.state,
            "current_job": self.current_job,
            "started_at": iso(self.started_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "queues": self.queues,
            "gpus": [gpu.to_dict() for gpu in self.gpus],
        }


@record(frozen=True)
class GpuUse:
    """One GPU of a host (its index, as nvidia-smi numbers it) and the job whose running
    attempt holds it (None: free)."""

    host: str
    gpu: int
    job: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "job": self.job}


@record(frozen=True, slots=True)
class IdlePlan:
    """What an idle worker sleeps by, as the store said when it found it nothing to claim:
    seconds until the earliest waiting job of its queues is due (0: one is due now, yet not
    claimable by it; None: none waits) and until the next tick of a schedule (0: one has
    come; None: no schedule). A worker woken for nothing keeps it, so the claim that found
    nothing is its one transaction."""

    due: float | None
    tick: float | None


@record(frozen=True)
class CheckIn:
    """What the store asks of a worker, and what the job rows say it holds."""

    stop: bool = False
    # The job the worker runs is no longer its own by the job's row (which must name this
    # worker and this attempt): cancelled, or recovered and maybe running elsewhere. Abandon it.
    job_lost: bool = False
    # The worker's own row is gone: it was taken for lost. It must register again before it
    # claims anything; the job it runs it keeps unless job_lost says otherwise.
    lost: bool = False
    # A job whose row names this worker besides the one it reported: a claim whose answer
    # never reached it (the connection dropped). It is the worker's to run.
    also_held: str | None = None
    # The stored config (canonical key -> text), read in the same statement: a worker keeps
    # its snapshot fresh without a read of its own. None: not read.
    config: dict[str, str] | None = None


@record(frozen=True)
class Rate:
    """`queue rate Q N/DUR`: at most ``count`` jobs of a queue start in any window of
    ``window_ms`` milliseconds, across every host."""

    count: int
    window_ms: int

    def __str__(self) -> str:
        from queuectl.timeparse import format_duration

        return f"{self.count}/{format_duration(self.window_ms / 1000)}"


@record(frozen=True)
class QueueSettings:
    """An operator's settings for one queue: paused (no claim takes from it; running
    jobs finish) and a concurrency limit (at most this many of its jobs run at once across
    every worker and host; None: no limit). A queue with neither has no settings row."""

    name: str
    paused: bool = False
    limit: int | None = None
    # `queue rate`: at most this many jobs start in any window of this many ms; None: no rate
    rate: Rate | None = None
    window: str | None = None  # `queue window`: as given; None: no window
    window_tz: str | None = None  # its IANA zone

    @property
    def has_settings(self) -> bool:
        """Whether the queue is paused, limited, rated or windowed: it has a settings row."""
        return (self.paused or self.limit is not None or self.rate is not None
                or self.window is not None)


@record(frozen=True)
class QueueChange:
    """What `queue pause/resume/limit` did: the settings before and after, and whether the
    queue was known (it had jobs or settings) before the change."""

    before: QueueSettings
    after: QueueSettings
    known: bool


@record(frozen=True)
class QueueInfo:
    """One line of `queue list`: counts per state (every State, zeros included), jobs
    running now, and the queue's settings."""

    name: str
    counts: dict[str, int]
    paused: bool
    limit: int | None
    rate: Rate | None = None
    window: str | None = None
    window_tz: str | None = None
    open: bool = True  # inside its window now (True without one)

    @property
    def running(self) -> int:
        return self.counts.get(str(State.PROCESSING), 0)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "counts": dict(self.counts), "running": self.running,
                "paused": self.paused, "limit": self.limit,
                "rate": None if self.rate is None else str(self.rate),
                "window": self.window, "tz": self.window_tz, "open": self.open}
