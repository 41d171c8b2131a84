"""Recurring jobs in the store: what both SQL stores do, written once.

Each store hands these functions a ``Run``: a callable that runs one of its named ``cron_*``
queries inside the transaction it holds and returns the first row (or None). So the flow
and its guards live here, the SQL in the dialects' queries.sql, and a store only opens the
transaction.

Exactly one job per tick, whatever the number of pools and hosts: the pool that fires a tick
moves the schedule's next tick on (``cron_advance``, guarded by the tick it planned from:
compare-and-set) and enqueues the tick's job in the SAME transaction. A second pool firing
the same tick finds the tick moved on and does nothing; a pool killed mid-way has
committed both or neither. The job's id, ``NAME@<tick>``, is unique besides.

Whether a tick came while a pool ran (``--catch-up none`` misses one that came while none
did, however short ago) is read from the workers table in the firing transaction: a worker
saw the tick come if it had started by then and is known to have been alive at it: it has
heartbeated since (and so was alive at the tick), or it is the worker firing now. A worker
whose last heartbeat came before the tick may have died before it (its row stays until its
lease runs out), so it proves nothing: a pool restarted a few seconds after a crash misses
the ticks of those seconds. Running pools write nothing for this: it costs one read per
firing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from queuectl.errors import InvalidValue, QueuectlError
from queuectl.ids import new_job_id
from queuectl.models import State, from_ms, iso, to_ms
from queuectl.recurring import (
    SKIPPED_KEPT,
    SUSPECT_HISTORY,
    UNFINISHED,
    Cron,
    CronSpec,
    is_overdue,
    suspect_reason,
    tick_of,
)
from queuectl.schedules import (
    MAX_BACKFILL,
    CatchUp,
    Overlap,
    jitter_ms,
    next_tick,
    plan_firing,
    tick_job_id,
    ticks_between,
    zone,
)
from queuectl.settings import Config

Run = Callable[[str, dict[str, Any]], Sequence[Any] | None]
# Cancels a job in the caller's transaction, as `cancel` does (a running one is killed by
# its worker): how --overlap replace clears the way for a tick's job.
Cancel = Callable[[str], None]


@dataclass(frozen=True)
class Fired:
    """What firing one schedule did: enqueued ``job_id`` for ``tick``, or skipped ``tick``
    because ``blocked_by`` (its unfinished job) ran, or (both None) its missed ticks."""

    name: str
    tick: datetime | None
    job_id: str | None = None
    blocked_by: str | None = None
    replaced: str | None = None  # the unfinished job --overlap replace cancelled for it


# --- definitions -------------------------------------------------------------------------------


def next_run_ms(spec: CronSpec, now_ms: int) -> int | None:
    """The schedule's first tick after ``now_ms`` (epoch ms), or None if it never ticks."""
    tick = next_tick(spec.parsed, zone(spec.tz), _at(now_ms))
    return None if tick is None else to_ms(tick)


def upsert_params(spec: CronSpec, now_ms: int, replace: bool) -> dict[str, Any]:
    """cron_upsert's parameters: the definition, its first tick, whether to replace."""
    return {
        "name": spec.name, "schedule": spec.schedule, "tz": spec.tz, "command": spec.command,
        "max_retries": spec.max_retries, "priority": spec.priority, "timeout": spec.timeout,
        "queue": spec.queue, "cwd": spec.cwd, "env": json.dumps(spec.env) if spec.env else None,
        "overlap": str(spec.overlap), "catch_up": str(spec.catch_up),
        "jitter_ms": round(spec.jitter * 1000) if spec.jitter else None,
        "alert_after_ms": round(spec.alert_after * 1000) if spec.alert_after else None,
        "next_run_at": next_run_ms(spec, now_ms), "now": now_ms, "replace": replace,
        "policies": json.dumps(spec.policies) if spec.policies else None,
    }


def spec_from_row(row: Mapping[str, Any]) -> CronSpec:
    return CronSpec(
        name=row["name"], schedule=row["schedule"], tz=row["tz"], command=row["command"],
        overlap=Overlap(row["overlap"]), catch_up=CatchUp(row["catch_up"]),
        max_retries=row["max_retries"], priority=row["priority"], timeout=row["timeout"],
        queue=row["queue"], cwd=row["cwd"], env=json.loads(row["env"]) if row["env"] else None,
        jitter=row["jitter_ms"] / 1000 if row["jitter_ms"] else None,
        alert_after=row["alert_after_ms"] / 1000 if row["alert_after_ms"] else None,
        policies=_policies(row),
    )


def _policies(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schedule's policies column (a JSON object; absent from a row read through a
    function older than the column, NULL: none)."""
    try:
        value = row["policies"]
    except (KeyError, IndexError):
        return None
    return json.loads(value) if value else None


def cron_from_row(row: Mapping[str, Any]) -> Cron:
    """A row of cron_list: the schedule's columns, its latest job and success, and the
    store's now, by which it is judged overdue."""
    paused = bool(row["paused"])
    spec = spec_from_row(row)
    ok_tick, ok_at = last_success(row)
    created = from_ms(row["created_at"])
    return Cron(
        spec=spec, paused=paused,
        next_run_at=None if paused else from_ms(row["next_run_at"]),
        skipped=int(row["skipped"]), last_job=row["last_job"],
        last_state=State(row["last_state"]) if row["last_state"] else None,
        created_at=created, last_success_tick=ok_tick, last_success_at=ok_at,
        overdue=is_overdue(spec.alert_after, ok_tick, created, _at(int(row["now_ms"]))),
        overdue_since=from_ms(row["overdue_since"]),
        suspect=row["last_suspect"], suspects=int(row["suspects"]),
    )


def last_success(row: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(tick, finished) of a cron_list row's latest success: the completed job of the
    latest tick, or a later completed `cron run` job (its tick: when it was enqueued)."""
    tick = tick_of(row["ok_tick_job"], row["name"]) if row["ok_tick_job"] else None
    done = from_ms(row["ok_tick_finished"])
    run_at = from_ms(row["ok_run_created"])
    if run_at is not None and (tick is None or run_at > tick):
        return run_at, from_ms(row["ok_run_finished"])
    return tick, done


def judge_overdue(row: Mapping[str, Any], run: Run) -> bool:
    """Mark a schedule's overdue episode (a row of cron_list, read in the caller's write
    transaction): its start, cron_schedules.overdue_since, set by the first pool to find
    it overdue; its end once a success finished after that start. True when THIS call
    began the episode: the one place, in that same transaction, where the schedule's
    `overdue` event happens (once per episode, whatever the number of pools)."""
    cron = cron_from_row(row)
    if cron.overdue and cron.overdue_since is None:
        now = int(row["now_ms"])
        if run("cron_overdue_begin", {"name": cron.name, "now": now}) is None:
            return False  # begun by another pool
        fire_hooks(run, "overdue", cron.name, row["last_job"], now)
        return True
    if not cron.overdue and cron.overdue_since is not None and cron.last_success_at \
            is not None and cron.last_success_at >= cron.overdue_since:
        run("cron_overdue_end", {"name": cron.name, "ok_finished": to_ms(cron.last_success_at)})
    return False


JUDGED_AT_ONCE = 50  # completed jobs one judging of a schedule looks at, at most
RUNS_READ = JUDGED_AT_ONCE + SUSPECT_HISTORY  # cron_runs' rows: the new jobs and history
SUSPECTS_KEPT = 50  # flagged jobs kept per schedule for `cron show` (the count is kept whole)


def judge_suspects(name: str, judged_seq: int, top: int, runs: Sequence[Mapping[str, Any]],
                   now_ms: int, run: Run) -> list[str]:
    """Judge the schedule's completed jobs after ``judged_seq`` up to ``top`` (jobs.seq) in
    the caller's write transaction; ``runs``: cron_runs' rows (newest first: each new job
    and the ones before it). Each job is judged once, whatever the number of pools (the
    watermark moves by compare-and-set). Returns the jobs THIS call flagged suspect
    (cron_suspects, cron_flag_suspect): the one place, in that same transaction, where a
    job's `suspect` event happens."""
    if run("cron_judged", {"name": name, "from": judged_seq, "top": top}) is None:
        return []  # judged by another pool since we read it
    oldest_first = list(reversed(runs))
    flagged = []
    for i, job in enumerate(oldest_first):
        if int(job["seq"]) <= judged_seq:
            continue
        history = [(int(h["run_ms"]) / 1000, int(h["out_bytes"]))
                   for h in oldest_first[max(0, i - SUSPECT_HISTORY):i]]
        reason = suspect_reason(int(job["run_ms"]) / 1000, int(job["out_bytes"]), history)
        if reason is None:
            continue
        params = {"id": job["id"], "name": name, "reason": reason, "now": now_ms}
        if run("cron_flag_suspect", params) is not None:
            run("cron_count_suspect", {"name": name})
            fire_hooks(run, "suspect", name, str(job["id"]), now_ms)
            flagged.append(str(job["id"]))
    if flagged:
        run("cron_prune_suspects", {"name": name, "keep": SUSPECTS_KEPT})
    return flagged


def fire_hooks(run: Run, event: str, name: str, job_id: str | None, now_ms: int) -> None:
    """Schedule ``name``'s ``event`` (`overdue`, `suspect`): one job per matching hook, in
    queue `hooks`, in the caller's transaction (cron_fire_hooks). ``job_id``: the suspect
    job, or for `overdue` the schedule's latest job (None: it has none yet). The store wakes
    idle workers for them once the transaction commits."""
    run("cron_fire_hooks", {"name": name, "event": event, "job": job_id, "now": now_ms})


def episode_due(cron: Cron) -> bool:
    """Whether judge_overdue would change anything for ``cron`` (read outside a write, so
    that the common case writes nothing)."""
    if cron.overdue:
        return cron.overdue_since is None
    return cron.overdue_since is not None and cron.last_success_at is not None \
        and cron.last_success_at >= cron.overdue_since


def paused_params(row: Mapping[str, Any], paused: bool, now_ms: int) -> dict[str, Any]:
    """cron_set_paused's parameters. Resuming plans the first tick after now: the ticks
    missed while paused are not run."""
    next_ms = row["next_run_at"] if paused else next_run_ms(spec_from_row(row), now_ms)
    return {"name": row["name"], "paused": paused, "next_run_at": next_ms, "now": now_ms}


def manual_job_params(name: str, now_ms: int, config: Config) -> dict[str, Any]:
    """cron_insert_job's parameters for `cron run`: a job outside the schedule, whose id
    (NAME@run-XXXX) can never be a tick's."""
    return _job_params(name, f"{name}@run-{new_job_id()}", now_ms, config, None)


def tick_job_params(spec: CronSpec, tick: datetime, now_ms: int, config: Config
                    ) -> dict[str, Any]:
    """cron_insert_job's parameters for the job of ``tick``: due at the tick plus the
    schedule's jitter (at once when that has passed)."""
    jitter = round(spec.jitter * 1000) if spec.jitter else 0
    due = to_ms(tick) + jitter_ms(spec.name, tick, jitter) if jitter else None
    return _job_params(spec.name, tick_job_id(spec.name, tick), now_ms, config, due)


def _job_params(name: str, job_id: str, now_ms: int, config: Config, due_ms: int | None
                ) -> dict[str, Any]:
    return {"name": name, "id": job_id, "now": now_ms, "max_retries": config.max_retries,
            "timeout": config.job_timeout or None, "due": due_ms}


# --- firing ticks ------------------------------------------------------------------------------


def fire(row: Mapping[str, Any], config: Config, run: Run, cancel: Cancel,
         worker_id: str | None = None) -> Fired | None:
    """Fire one due schedule (a row of cron_due) in the caller's transaction. None when
    another pool fired it first (nothing written). ``config``: the limits a schedule leaves
    open (max-retries, job-timeout) as they are now, and the lease that tells a live worker
    and a late tick from a missed one; ``cancel`` cancels a job in the same transaction (--overlap
    replace); ``worker_id``: the worker firing, if a worker fires."""
    name, now_ms, due_ms = row["name"], int(row["now_ms"]), int(row["next_run_at"])
    advance = {"name": name, "due": due_ms, "now": now_ms}
    try:
        spec = spec_from_row(row)
        # Whether a pool ran is read only for --catch-up none and for a firing over a tick
        # late: an on-time tick of another schedule reads nothing more.
        plan = plan_firing(spec.parsed, zone(spec.tz), _at(due_ms), _at(now_ms), spec.catch_up,
                           lambda tick: _watched(run, tick, now_ms, config, worker_id),
                           timedelta(seconds=config.lease_timeout))
    except (QueuectlError, ValueError):
        # A definition this version cannot read (written by another one, or a zone gone
        # from this host's data): parked, rather than retried by every pool forever.
        run("cron_advance", {**advance, "next_run_at": None})
        return Fired(name, None)
    next_ms = None if plan.next_at is None else to_ms(plan.next_at)
    if run("cron_advance", {**advance, "next_run_at": next_ms}) is None:
        return None  # fired by another pool (or paused) since we read it
    if plan.tick is None:
        return Fired(name, None)
    if spec.overlap is Overlap.SKIP and (blocker := _unfinished_job(name, run)) is not None:
        tick_ms = to_ms(plan.tick)
        run("cron_record_skip", {"name": name, "tick": tick_ms, "blocked_by": blocker})
        run("cron_count_skip", {"name": name})
        run("cron_prune_skipped", {"name": name, "keep": SKIPPED_KEPT})
        return Fired(name, plan.tick, blocked_by=blocker)
    replaced = None
    if spec.overlap is Overlap.REPLACE and (replaced := _unfinished_job(name, run)) is not None:
        cancel(replaced)
    params = tick_job_params(spec, plan.tick, now_ms, config)
    inserted = run("cron_insert_job", params)
    return Fired(name, plan.tick, params["id"] if inserted is not None else None,
                 replaced=replaced)


def backfill(row: Mapping[str, Any], start: datetime, end: datetime, now_ms: int,
             config: Config, run: Run) -> list[str]:
    """Enqueue a job for each tick of the schedule (a row of cron_list) from ``start`` to
    ``end``, both included, in the caller's transaction, skipping ticks that have one (the
    id is the tick's); the new jobs' ids, oldest tick first. InvalidValue, before anything
    is written, for a range of over MAX_BACKFILL ticks."""
    spec = spec_from_row(row)
    ticks = ticks_between(spec.parsed, zone(spec.tz), start, end)
    if len(ticks) > MAX_BACKFILL:
        raise InvalidValue(f"{spec.name!r} ticks more than {MAX_BACKFILL} times from "
                           f"{iso(start)} to {iso(end)}: backfill a shorter range")
    made = []
    for tick in ticks:
        params = tick_job_params(spec, tick, now_ms, config)
        if run("cron_insert_job", params) is not None:
            made.append(str(params["id"]))
    return made


def _watched(run: Run, tick: datetime, now_ms: int, config: Config,
             worker_id: str | None) -> bool:
    """Whether a pool ran when ``tick`` came, by the store's clock: a worker alive now (a
    heartbeat within the lease at ``now_ms``, epoch ms) that had started by the tick and
    has heartbeated since, or is ``worker_id``, the one firing."""
    lease_ms = int(config.lease_timeout * 1000)
    row = run("cron_watched", {"now": now_ms, "lease_ms": lease_ms, "tick": to_ms(tick),
                               "worker": worker_id})
    return row is not None


def _unfinished_job(name: str, run: Run) -> str | None:
    """The schedule's latest job if it is still pending, failed (awaiting retry) or
    processing."""
    last = run("cron_last_job", {"name": name})
    if last is not None and State(last[1]) in UNFINISHED:
        return str(last[0])
    return None


def seconds_until(delta_ms: Any) -> float | None:
    """cron_next's answer (ms until the next tick, NULL for none) in seconds, >= 0."""
    return None if delta_ms is None else max(0.0, int(delta_ms) / 1000)


def skipped_from_rows(rows: Sequence[Sequence[Any]]) -> list[datetime]:
    return [_at(int(row[0])) for row in rows]


def _at(ms: int) -> datetime:
    ts = from_ms(ms)
    assert ts is not None
    return ts
