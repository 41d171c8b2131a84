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
alive now (a heartbeat within the lease) has heartbeated since it started, so a pool ran
from the earliest such start on. A tick before it came while no pool ran. The firing
worker is itself alive and registered, so a pool running all along covers its ticks, and
one started after a silence does not cover what came during the silence. Running pools
write nothing for this: it costs one read per firing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from queuectl.errors import QueuectlError
from queuectl.ids import new_job_id
from queuectl.models import State, from_ms, to_ms
from queuectl.recurring import SKIPPED_KEPT, UNFINISHED, Cron, CronSpec
from queuectl.schedules import CatchUp, Overlap, next_tick, plan_firing, tick_job_id, zone
from queuectl.settings import Config

Run = Callable[[str, dict[str, Any]], Sequence[Any] | None]


@dataclass(frozen=True)
class Fired:
    """What firing one schedule did: enqueued ``job_id`` for ``tick``, or skipped ``tick``
    because ``blocked_by`` (its unfinished job) ran, or (both None) its missed ticks."""

    name: str
    tick: datetime | None
    job_id: str | None = None
    blocked_by: str | None = None


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
        "next_run_at": next_run_ms(spec, now_ms), "now": now_ms, "replace": replace,
        "policies": json.dumps(spec.policies) if spec.policies else None,
    }


def spec_from_row(row: Mapping[str, Any]) -> CronSpec:
    return CronSpec(
        name=row["name"], schedule=row["schedule"], tz=row["tz"], command=row["command"],
        overlap=Overlap(row["overlap"]), catch_up=CatchUp(row["catch_up"]),
        max_retries=row["max_retries"], priority=row["priority"], timeout=row["timeout"],
        queue=row["queue"], cwd=row["cwd"], env=json.loads(row["env"]) if row["env"] else None,
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
    """A row of cron_list: the schedule's columns, last_job and last_state."""
    paused = bool(row["paused"])
    return Cron(
        spec=spec_from_row(row), paused=paused,
        next_run_at=None if paused else from_ms(row["next_run_at"]),
        skipped=int(row["skipped"]), last_job=row["last_job"],
        last_state=State(row["last_state"]) if row["last_state"] else None,
        created_at=from_ms(row["created_at"]),
    )


def paused_params(row: Mapping[str, Any], paused: bool, now_ms: int) -> dict[str, Any]:
    """cron_set_paused's parameters. Resuming plans the first tick after now: the ticks
    missed while paused are not run."""
    next_ms = row["next_run_at"] if paused else next_run_ms(spec_from_row(row), now_ms)
    return {"name": row["name"], "paused": paused, "next_run_at": next_ms, "now": now_ms}


def manual_job_params(name: str, now_ms: int, config: Config) -> dict[str, Any]:
    """cron_insert_job's parameters for `cron run`: a job outside the schedule, whose id
    (NAME@run-XXXX) can never be a tick's."""
    return _job_params(name, f"{name}@run-{new_job_id()}", now_ms, config)


def _job_params(name: str, job_id: str, now_ms: int, config: Config) -> dict[str, Any]:
    return {"name": name, "id": job_id, "now": now_ms, "max_retries": config.max_retries,
            "timeout": config.job_timeout or None}


# --- firing ticks ------------------------------------------------------------------------------


def fire(row: Mapping[str, Any], config: Config, run: Run) -> Fired | None:
    """Fire one due schedule (a row of cron_due) in the caller's transaction. None when
    another pool fired it first (nothing written). ``config``: the limits a schedule leaves
    open (max-retries, job-timeout) as they are now, and the lease that tells a live worker
    (--catch-up none)."""
    name, now_ms, due_ms = row["name"], int(row["now_ms"]), int(row["next_run_at"])
    advance = {"name": name, "due": due_ms, "now": now_ms}
    try:
        spec = spec_from_row(row)
        # Only --catch-up none asks whether a pool ran: the other schedules read nothing more.
        watched_from = (_watched_from(run, now_ms, config)
                        if spec.catch_up is CatchUp.NONE else None)
        plan = plan_firing(spec.parsed, zone(spec.tz), _at(due_ms), _at(now_ms), spec.catch_up,
                           watched_from)
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
    job_id = tick_job_id(name, plan.tick)
    inserted = run("cron_insert_job", _job_params(name, job_id, now_ms, config))
    return Fired(name, plan.tick, job_id if inserted is not None else None)


def _watched_from(run: Run, now_ms: int, config: Config) -> datetime | None:
    """Since when a pool has run without a break, by the store's clock: the earliest start
    of a worker whose heartbeat is within the lease at ``now_ms`` (epoch ms); None when no
    worker is alive (a firing outside any pool)."""
    lease_ms = int(config.lease_timeout * 1000)
    row = run("cron_watched_from", {"now": now_ms, "lease_ms": lease_ms})
    return None if row is None or row[0] is None else _at(int(row[0]))


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
