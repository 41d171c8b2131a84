"""The shared reads, and the JSON documents they give.

`show`, `list`, `status`, `logs`, `wait`, the dashboard's JSON API and ``Queue`` read
through these, so each document (`show --json`, GET /api/jobs/ID, ``Queue.get().to_dict()``)
is one function's answer, whichever front end prints it.
"""

from __future__ import annotations

import time

from queuectl.errors import InvalidValue, JobNotFound, NoOutput
from queuectl.models import FINAL_STATES, State

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from typing import Any

    from queuectl.models import Job, Output, QueueInfo, WorkerInfo
    from queuectl.recurring import Cron
    from queuectl.storage.base import Stats, Storage

WAIT_POLL = 0.2  # seconds between polls while waiting for jobs to finish
# A search or tag filter of a limited list looks at the newest this many jobs of the store
# (by insertion order, whatever their state or queue), newest first: at a million jobs a
# search that matches nothing would otherwise read every row (1-3 s on PostgreSQL, which
# lowers each command it reads). A list of all jobs (no limit) and the bulk actions still
# look at every job; `list` says when the window held fewer matches than asked for.
SEARCH_WINDOW = 100_000


def job_with_attempts(store: Storage, job_id: str) -> Job:
    """The job with its attempts log, dependents and what holds it back (``to_dict()`` is
    `show --json`); raises JobNotFound."""
    from queuectl.records import replace

    job = store.get_job(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return replace(job, attempts_log=tuple(store.attempts(job_id)),
                   dependents=tuple(store.dependents(job_id)), held_back=held_back(store, job))


def jobs_now(store: Storage, job_ids: Sequence[str]) -> list[Job]:
    """The jobs as they are now, in the order asked; raises JobNotFound for the first unknown."""
    jobs = []
    for job_id in job_ids:
        job = store.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        jobs.append(job)
    return jobs


def output_of(store: Storage, job_id: str, attempt: int | None) -> Output | None:
    """The captured output of attempt ``attempt`` (None: the latest); None when the job has
    not run yet. Raises JobNotFound, or NoOutput for an attempt the job never had."""
    out = store.read_output(job_id, attempt)
    if out is not None:
        return out
    if store.get_job(job_id) is None:
        raise JobNotFound(job_id)
    if attempt is not None:
        raise NoOutput(f"job {job_id!r} has no attempt {attempt}")
    return None


def output_ran(store: Storage, job_id: str, attempt: int | None) -> Output:
    """``output_of`` for a job that must have run (`logs`, GET /api/jobs/ID/logs; its
    ``to_dict()`` is `logs --json`): NoOutput when it has not run yet."""
    out = output_of(store, job_id, attempt)
    if out is None:
        raise NoOutput(f"job {job_id!r} has not run yet")
    return out


def parse_state(state: State | str | None) -> State | None:
    """A state filter (None: any); raises InvalidValue naming the valid states."""
    if state is None:
        return None
    if state not in State.__members__.values():
        raise InvalidValue(f"invalid state {state!r}; valid: {', '.join(State)}")
    return State(state)


def list_jobs(store: Storage, state: State | None = None, queue: str | None = None,
              limit: int | None = None, *, offset: int = 0, id_contains: str | None = None,
              cron: str | None = None, tags: Sequence[str] = (),
              search: str | None = None) -> list[Job]:
    """Jobs newest first (`list`, `dlq list`, GET /api/jobs, the dashboard's pages): only
    ``state``, ``queue``, ids holding ``id_contains``, jobs of schedule ``cron``, jobs
    holding every one of ``tags``, ids or commands holding ``search`` in any case, when
    given; at most ``limit`` (None: all) after skipping ``offset``. With ``tags`` or
    ``search`` and a ``limit``, only the newest SEARCH_WINDOW jobs of the store are
    searched (see searched_part)."""
    window = SEARCH_WINDOW if limit is not None else None
    return store.list_jobs(state, queue, limit, offset, id_contains, cron=cron, tags=tags,
                           search=search, window=window)


def searched_part(store: Storage, state: State | None, queue: str | None, cron: str | None,
                  tags: Sequence[str], search: str | None, limit: int | None,
                  found: int) -> int | None:
    """How many of the jobs a search of list_jobs looked at, when it looked at only some:
    a search or tag filter with a ``limit`` that ``found`` fewer matches than asked for
    while jobs older than the window pass the other filters. None when it looked at every
    job it could have (or found as many as asked for)."""
    if limit is None or found >= limit or not (tags or search):
        return None
    if not store.beyond_window(state, queue, cron, window=SEARCH_WINDOW):
        return None
    return SEARCH_WINDOW


def stats(store: Storage) -> Stats:
    """Counts per state, scheduled and blocked jobs, workers, paused queues and limits;
    its ``to_dict()`` is the `status --json` document (GET /api/status, ``Queue.status()``)."""
    return store.stats()


def status(store: Storage) -> dict[str, Any]:
    """The `status --json` document (see stats)."""
    return stats(store).to_dict()


def queues(store: Storage) -> list[QueueInfo]:
    """Every queue that has jobs or settings: counts per state, running, paused, limit
    (``to_dict()``: `queue list --json`, GET /api/queues)."""
    return store.queue_overview()


def workers(store: Storage) -> list[WorkerInfo]:
    """Every registered worker, with its state (idle, busy, lost) and current job."""
    return store.list_workers()


def schedules(store: Storage) -> list[Cron]:
    """Every recurring schedule (``to_dict()``: `cron list --json`, GET /api/cron)."""
    return store.cron_list()


def held_back(store: Storage, job: Job) -> str | None:
    """What a waiting job that is free to start waits for beside a worker, for people
    (`show`): "waiting for mutex NAME" while another job holds its mutex, "queue paused",
    "rate limit N/DUR" in a queue with a rate, "queue closed until 22:00 Europe/Berlin"
    outside its window, "needs 4 GPUs: no running pool has that many" or "waiting for 2 free
    GPUs" for a job given --gpus; None when nothing holds it back."""
    from queuectl.models import READY_STATES

    if job.state not in READY_STATES or job.held or job.waiting_for:
        return None
    reasons: list[str] = []
    # What another job holds (GPUs, a mutex) is a reason only once the job is due: before,
    # its own time is (`list` says when).
    due = job.run_at <= store.store_now()
    if job.gpus is not None:
        reasons.extend(_gpus_wanted(store, job.gpus, due))
    if job.mutex is not None and due:
        holder = store.mutex_holder(job.mutex)
        if holder is not None and holder != job.id:
            reasons.append(f"waiting for mutex {job.mutex}")
    for queue in store.queue_settings():
        if queue.name != job.queue:
            continue
        if queue.paused:
            reasons.append("queue paused")
        if queue.rate is not None:
            reasons.append(f"rate limit {queue.rate}")
        if queue.window is not None and queue.window_tz is not None:
            reasons.extend(_window_closed(queue.window, queue.window_tz, store.store_now()))
    return "; ".join(reasons) or None


def _gpus_wanted(store: Storage, wanted: int, due: bool) -> list[str]:
    """Why a job asking for ``wanted`` GPUs waits, if the running pools say: none owns
    that many, or (``due``: its time has come) none has that many free now ([]: one
    has)."""
    pools = [w.gpus for w in store.list_workers() if w.state != "lost" and w.gpus]
    most = max((len(gpus) for gpus in pools), default=0)
    gpus = "GPU" if wanted == 1 else "GPUs"
    if most < wanted:
        owned = f"the most is {most}" if most else "none was started with --gpus"
        return [f"needs {wanted} {gpus}: no running pool has that many ({owned})"]
    if due and max(sum(use.job is None for use in uses) for uses in pools) < wanted:
        return [f"waiting for {wanted} free {gpus}"]
    return []


def _window_closed(spec: str, tz: str, now: datetime) -> list[str]:
    """["queue closed until 22:00 Europe/Berlin"] while the window is closed at ``now``,
    else []."""
    from queuectl import windows
    from queuectl.schedules import zone

    window = windows.parse_window(spec)
    if windows.is_open(window, zone(tz), now):
        return []
    return [f"queue closed until {windows.opens_in_words(window, zone(tz), now, tz)}"]


def job_docs(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Jobs as the JSON list every listing and action prints."""
    return [job.to_dict() for job in jobs]


def enqueued_docs(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """`enqueue --json` documents: a job whose unique key was taken (the job holding the
    key, given back in its place) is marked ``"duplicate": true``."""
    return [{**job.to_dict(), "duplicate": True} if job.duplicate else job.to_dict()
            for job in jobs]


def dead_blockers(store: Storage, jobs: Sequence[Job]) -> dict[str, str]:
    """For each waiting job of ``jobs`` that waits, directly or down the chain, for a job
    that is dead: its id -> that dead job's id (the first found, nearest first). Such a
    job runs only once the dead one is retried (`dlq retry`)."""
    found: dict[str, str] = {}
    for job in jobs:
        if job.state is not State.PENDING or not job.waiting_for:
            continue
        seen: set[str] = set()
        todo = list(job.waiting_for)
        while todo:
            dep_id = todo.pop(0)
            if dep_id in seen:
                continue
            seen.add(dep_id)
            dep = store.get_job(dep_id)
            if dep is None:
                continue
            if dep.state is State.DEAD:
                found[job.id] = dep_id
                break
            if dep.state is State.PENDING:
                todo.extend(dep.waiting_for)
    return found


def wait_for(snapshot: Callable[[], list[Job]], timeout: float | None,
             poll: float = WAIT_POLL,
             stuck: Callable[[list[Job]], bool] | None = None) -> tuple[list[Job], bool]:
    """Read ``snapshot()`` until every job in it is final (completed, dead, cancelled),
    ``timeout`` seconds have passed (None: no limit) or ``stuck(jobs)`` says waiting is in
    vain (a job waits for a dead one). Returns the last snapshot and whether every job was
    final in it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        jobs = snapshot()
        done = all(job.state in FINAL_STATES for job in jobs)
        if done or (deadline is not None and time.monotonic() >= deadline):
            return jobs, done
        if stuck is not None and stuck(jobs):
            return jobs, done
        pause = poll if deadline is None else min(poll, max(0.0, deadline - time.monotonic()))
        time.sleep(pause)
