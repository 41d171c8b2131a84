"""The actions on jobs, queues and schedules: what `cancel`, `dlq retry`, `purge`,
`remove`, `hold`, `release`, `queue
pause|resume|limit`, `cron pause|resume|run`, the dashboard's buttons, its JSON API and
``Queue`` do.

Every argument is checked before the store is opened (or created), so a refused action
writes nothing. Each action raises queuectl's errors: JobNotFound or ScheduleNotFound for
an unknown name, WrongState for a job in the wrong state, InvalidValue for a bad value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from queuectl.errors import InvalidValue, JobNeeded, JobNotFound, UniqueKeyTaken, WrongState
from queuectl.models import FINAL_STATES, QueueSettings

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any

    from queuectl.models import Job, QueueChange, State
    from queuectl.recurring import Cron
    from queuectl.storage.base import Storage

KILL_POLL = 0.05  # seconds between checks while a running job's worker kills it
QUEUE_ACTIONS = ("pause", "resume", "limit", "rate", "window")
CRON_ACTIONS = ("pause", "resume", "run")


def cancel(store: Storage, job_ids: Sequence[str]) -> list[Job]:
    """Cancel jobs, all or none: pending and failed ones never run, a running one's process
    group is killed by its worker moments later. The jobs, cancelled."""
    return store.cancel(list(job_ids))


def unconfirmed_kills(store: Storage, jobs: Sequence[Job], timeout: float) -> list[str]:
    """Wait up to ``timeout`` seconds for the workers to kill the jobs of ``jobs`` that
    were running when cancelled (so that "cancelled" means gone); the ids of those whose
    kill is still unconfirmed then."""
    deadline = time.monotonic() + timeout
    pending = [job.id for job in jobs if job.started_at and job.finished_at is None]
    while pending and time.monotonic() < deadline:
        pending = [job_id for job_id in pending if _attempt_running(store, job_id)]
        if pending:
            time.sleep(KILL_POLL)
    return pending


def _attempt_running(store: Storage, job_id: str) -> bool:
    attempts = store.attempts(job_id)
    return bool(attempts) and attempts[-1].finished_at is None


def retry_dead(store: Storage, job_ids: Sequence[str] | None) -> list[Job]:
    """Dead jobs back to pending, attempts 0, due now (None: every dead job), all or none;
    WrongState for a job that is not dead."""
    return store.retry_dead(None if job_ids is None else list(job_ids))


def dead_left(store: Storage) -> int:
    """How many jobs are dead (after `dlq retry --all`: those another job's unique key
    kept there)."""
    return store.stats().counts["dead"]


def purge(store: Storage, states: Sequence[State], older_than: float) -> int:
    """Delete jobs in final ``states`` (none given: every final state) finished more than
    ``older_than`` seconds ago, with their attempts and output; how many were deleted."""
    return store.purge(list(states) or sorted(FINAL_STATES), older_than)


NOT_IN_A_JOB = ("snooze works only inside a job that a worker runs "
                "(QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT and QUEUECTL_SNOOZE_FILE are not set)")


def snooze(store: Storage, environ: Mapping[str, str], seconds: float) -> int:
    """`queuectl snooze`: the running job named by ``environ`` (its worker's variables)
    asks to run again ``seconds`` after this attempt ends, without spending a retry.
    Returns its snoozes so far. Raises InvalidValue outside a job, or past config
    max-snoozes (nothing written), WrongState when that attempt is no longer running."""
    job_id, attempt = environ.get("QUEUECTL_JOB_ID"), environ.get("QUEUECTL_ATTEMPT")
    from queuectl.settings import SNOOZE_FILE_ENV

    path = environ.get(SNOOZE_FILE_ENV)
    if not job_id or not path or not attempt or not attempt.isdigit():
        raise InvalidValue(NOT_IN_A_JOB)
    if seconds <= 0:
        raise InvalidValue(f"invalid duration {seconds:g}s: must be more than 0 seconds")
    from queuectl.settings import Config

    limit = Config.from_stored(store.config_items()).max_snoozes
    count = store.snooze(job_id, int(attempt), limit)
    with open(path, "w", encoding="ascii") as told:  # the worker reads it as the attempt ends
        told.write(repr(float(seconds)))
    return count


def hold(store: Storage, job_ids: Sequence[str]) -> list[Job]:
    """Hold waiting jobs, all or none: they stay pending (or failed) and are never claimed
    until released. Raises JobNotFound, WrongState (not waiting, or held already)."""
    return store.hold(job_ids)


def release(store: Storage, job_ids: Sequence[str]) -> list[Job]:
    """Release held jobs, all or none: claimed again once due. Raises JobNotFound,
    WrongState (not held)."""
    return store.release(job_ids)


def remove(store: Storage, job_ids: Sequence[str]) -> list[str]:
    """Delete ended jobs with their attempts and output, all or none; the ids deleted.
    Raises JobNotFound, WrongState (not ended) or JobNeeded (a waiting job needs it)."""
    return store.remove(job_ids)


def removed_doc(job_ids: Sequence[str]) -> dict[str, object]:
    """What `remove --json` and the JSON API answer: how many, which, none skipped."""
    return {"count": len(job_ids), "ids": list(job_ids), "skipped": 0}


def queue_action(name: str, action: str, limit: str | None = None,
                 tz: str | None = None) -> Callable[[Storage], QueueChange]:
    """``action`` (pause, resume, limit, rate) on queue ``name``, checked now, to apply to a
    store later: ``limit`` is the text given (a whole number >= 0, or "none"; for rate
    N/DURATION or "none"; for window [DAYS ]HH:MM-HH:MM or "none", in zone ``tz``: the
    machine's local zone when None). Raises
    InvalidValue (or UsageError for a limit that is no number) before any store is opened,
    so a refused action creates and writes nothing."""
    from queuectl.specs import check_queue, parse_limit
    from queuectl.storage.base import change_queue_settings

    name = check_queue(name)
    if action == "limit":
        value = parse_limit(limit if limit is not None else "")
        change_queue_settings(QueueSettings(name), None, value)
        return lambda store: store.queue_update(name, limit=value)
    if action == "rate":
        from queuectl.specs import parse_rate

        rate = parse_rate(limit if limit is not None else "")
        return lambda store: store.queue_update(name, rate=rate)
    if action == "window":
        return _window_action(name, limit if limit is not None else "", tz)
    return lambda store: store.queue_update(name, paused=action == "pause")


def _window_action(name: str, spec: str, tz: str | None) -> Callable[[Storage], QueueChange]:
    """`queue window`: the window and its zone checked now (the zone stored by name)."""
    from queuectl.schedules import zone
    from queuectl.windows import parse_window

    if spec.strip().lower() == "none":
        return lambda store: store.queue_update(name, window=None)
    window = parse_window(spec)
    if tz is None:
        from queuectl.localzone import local_zone_name

        tz = local_zone_name()
    zone(tz)
    given = (window.text, tz)
    return lambda store: store.queue_update(name, window=given)


def queue_doc(settings: QueueSettings) -> dict[str, object]:
    """A queue's settings as `queue pause|resume|limit --json` prints them."""
    return {"name": settings.name, "paused": settings.paused, "limit": settings.limit,
            "rate": None if settings.rate is None else str(settings.rate),
            "window": settings.window, "tz": settings.window_tz}


def cron_paused(store: Storage, name: str, paused: bool) -> Cron:
    """Pause schedule ``name`` (no tick fires) or resume it (from the next tick: missed
    ticks are not run); the schedule then. Raises ScheduleNotFound."""
    return store.cron_set_paused(name, paused)


def cron_run(store: Storage, name: str) -> Job:
    """One job of schedule ``name``, enqueued now outside its ticks. Raises
    ScheduleNotFound."""
    return store.cron_run_now(name)


def cron_backfill(store: Storage, name: str, start: datetime, end: datetime,
                  now: datetime) -> list[str]:
    """One job for each tick of schedule ``name`` from ``start`` to ``end`` (both included,
    none after ``now``) that has none yet; the new ids. Raises InvalidValue for a range
    that is reversed, reaches past now, or holds too many ticks; ScheduleNotFound."""
    from queuectl.models import iso

    if start > end:
        raise InvalidValue(f"invalid range: --from {iso(start)} is after --to {iso(end)}")
    if end > now:
        raise InvalidValue(f"invalid --to {iso(end)}: it is in the future (ticks to come "
                           "are the schedule's)")
    return store.cron_backfill(name, start, end)


def cron_remove(store: Storage, name: str) -> None:
    """Delete schedule ``name`` (the jobs it enqueued stay). Raises ScheduleNotFound."""
    store.cron_remove(name)


def stop_workers(store: Storage) -> list[str]:
    """Ask every worker of the store (any machine) to stop after its current job; the ids
    of the workers asked."""
    return store.request_stop()


def cron_act(store: Storage, name: str, action: str) -> dict[str, Any]:
    """``action`` (pause, resume, run) on schedule ``name``: the schedule's document, or
    for run the job's (as `cron run --json`). Raises ScheduleNotFound."""
    if action == "run":
        return cron_run(store, name).to_dict()
    return cron_paused(store, name, action == "pause").to_dict()


BULK_ACTIONS = ("cancel", "hold", "release", "remove", "retry")
BULK_BATCH = 500  # jobs per transaction: an enqueue beside a bulk action waits for one batch
# The states each bulk action applies to, and whether held (None: either).
_BULK_MATCH: dict[str, tuple[tuple[str, ...], bool | None]] = {
    "cancel": (("pending", "failed", "processing"), None),
    "hold": (("pending", "failed"), False),
    "release": (("pending", "failed"), True),
    "remove": (("completed", "dead", "cancelled"), None),
    "retry": (("dead",), None),
}


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a bulk action takes: any of a state, a queue, tags (every one), a
    search text (id or command, any case), last changed more than ``older_than`` seconds
    ago. Only jobs the action applies to match, whatever the filter says."""

    state: str | None = None
    queue: str | None = None
    tags: tuple[str, ...] = ()
    search: str | None = None
    older_than: float | None = None


def bulk(store: Storage, action: str, flt: JobFilter, *, dry_run: bool = False,
         batch: int = BULK_BATCH) -> dict[str, Any]:
    """``action`` (one of BULK_ACTIONS) on every job ``flt`` matches, a batch at a time,
    each batch one short transaction; a job that left the matching state meanwhile is
    skipped and counted. ``dry_run``: only the ids it would touch. The `--json` answer:
    ``{"count": n, "ids": [...], "skipped": n}``."""
    if action not in _BULK_MATCH:
        raise InvalidValue(f"invalid action {action!r}: one of {', '.join(BULK_ACTIONS)}")
    states, held = _BULK_MATCH[action]
    if flt.state is not None:
        states = tuple(s for s in states if s == flt.state)
    act = _BULK_DO[action]
    done: list[str] = []
    skipped, after = 0, 0
    while True:
        found = store.match_jobs(states, after=after, limit=batch, held=held, queue=flt.queue,
                                 tags=flt.tags, search=flt.search, older_than=flt.older_than,
                                 unneeded=action == "remove")
        if not found:
            break
        after = found[-1][0]
        ids = [job_id for _, job_id in found]
        if dry_run:
            done += ids
            continue
        changed, missed = _each_or_skip(lambda todo: act(store, todo), ids)
        done += changed
        skipped += missed
    return {"count": len(done), "ids": done, "skipped": skipped}


def bulk_request(doc: object) -> tuple[str, JobFilter, bool]:
    """A bulk request as the JSON API takes it, checked: ``{"action": ..., "filter":
    {"state", "queue", "tag": [...], "search", "older_than"}, "dry_run": bool}`` ->
    (action, filter, dry_run). Raises InvalidValue naming what is wrong."""
    from queuectl.timeparse import parse_duration

    if not isinstance(doc, dict):
        raise InvalidValue("the body must be a JSON object")
    action = doc.get("action")
    if action not in _BULK_MATCH:
        raise InvalidValue(f"invalid action {action!r}: one of {', '.join(BULK_ACTIONS)}")
    flt = doc.get("filter") or {}
    dry_run = doc.get("dry_run", False)
    if not isinstance(flt, dict) or not isinstance(dry_run, bool):
        raise InvalidValue("filter must be an object, dry_run true or false")
    unknown = set(flt) - {"state", "queue", "tag", "search", "older_than"}
    if unknown:
        raise InvalidValue(f"unknown filter {sorted(unknown)[0]!r}")
    tags = flt.get("tag") or []
    tags = [tags] if isinstance(tags, str) else tags
    texts = [flt.get("state"), flt.get("queue"), flt.get("search"), *tags]
    if not isinstance(tags, list) or not all(t is None or isinstance(t, str) for t in texts):
        raise InvalidValue("state, queue, search and each tag must be strings")
    older = flt.get("older_than")
    if older is not None and not isinstance(older, str | int | float) or isinstance(older, bool):
        raise InvalidValue("older_than must be a duration: seconds, or text like 7d")
    seconds = None if older is None else parse_duration(str(older))
    return action, JobFilter(flt.get("state") or None, flt.get("queue") or None, tuple(tags),
                             flt.get("search") or None, seconds), dry_run


_BULK_DO: dict[str, Callable[[Storage, list[str]], object]] = {
    "cancel": lambda store, ids: store.cancel(ids),
    "hold": lambda store, ids: store.hold(ids),
    "release": lambda store, ids: store.release(ids),
    "remove": lambda store, ids: store.remove(ids),
    "retry": lambda store, ids: store.retry_dead(ids),
}


def _each_or_skip(act: Callable[[list[str]], object], ids: list[str]) -> tuple[list[str], int]:
    """``act`` on ``ids`` (all or none), again without each job it refuses (one that left
    the matching state since it was matched): the ids changed, how many were skipped."""
    todo, skipped = list(ids), 0
    while todo:
        try:
            act(todo)
        except (JobNotFound, WrongState, JobNeeded, UniqueKeyTaken) as exc:
            todo.remove(exc.job_id)
            skipped += 1
            continue
        break
    return todo, skipped
