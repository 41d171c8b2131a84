"""Recurring jobs as data: what a user asks for (CronSpec) and a stored schedule with what
the store knows of it (Cron). Pure: no I/O. When ticks fall is schedules.py's to say."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queuectl.errors import InvalidValue
from queuectl.models import State, iso
from queuectl.schedules import CatchUp, Overlap, Schedule, parse_schedule
from queuectl.text import CONTROL_CHARS
from queuectl.timeparse import format_duration

MAX_NAME_CHARS = 100
# A tick is skipped (--overlap skip) while the schedule's latest job is in one of these.
UNFINISHED = frozenset({State.PENDING, State.FAILED, State.PROCESSING})
SKIPPED_KEPT = 50  # skipped ticks kept per schedule for `cron show` (the count is kept whole)
# Suspect successes: a completed run far shorter, or far quieter, than the schedule's own.
SUSPECT_HISTORY = 20  # previous completed runs compared with, at most
SUSPECT_MIN_HISTORY = 5  # fewer previous runs say nothing
SUSPECT_RATIO = 10  # under a tenth of the median
SUSPECT_MIN_OUTPUT = 1024  # bytes: a median output under this says nothing of a quiet run


def check_name(name: str) -> str:
    """A schedule's name: 1-100 characters, no control characters, no '@' (it separates the
    name from the tick in a job id). Raises InvalidValue."""
    if not 1 <= len(name) <= MAX_NAME_CHARS or CONTROL_CHARS.search(name) or "@" in name:
        raise InvalidValue(f"invalid schedule name {name[:40]!r}: 1-{MAX_NAME_CHARS} characters, "
                           "no control characters, no '@'")
    return name


def job_env(job_id: str, cron: str, created_at: datetime | None) -> dict[str, str]:
    """The variables a schedule's job runs with: QUEUECTL_CRON, its name, and QUEUECTL_TICK,
    the tick its id names (``NAME@<tick>``), or for a job outside the ticks (`cron run`)
    when it was enqueued (ISO UTC)."""
    tick = iso(tick_of(job_id, cron) or created_at)
    return {"QUEUECTL_CRON": cron, "QUEUECTL_TICK": tick or ""}


def is_overdue(alert_after: float | None, last_success_tick: datetime | None,
               created_at: datetime | None, now: datetime) -> bool:
    """``--alert-after``: a schedule is overdue while its latest success's tick (before any
    success, its creation) is more than ``alert_after`` seconds before ``now``."""
    since = last_success_tick or created_at
    if alert_after is None or since is None:
        return False
    return (now - since).total_seconds() > alert_after


def suspect_reason(run_s: float, output_bytes: int,
                   history: Sequence[tuple[float, int]]) -> str | None:
    """Why a completed run (``run_s`` seconds, ``output_bytes`` printed) looks like no real
    success, or None: it ran under a tenth of the median run time of the schedule's
    previous completed runs (``history``, (seconds, bytes) each, newest last; at least 5,
    the last 20 count), or printed under a tenth of their median output when that median
    is at least 1 KiB. "ran 0.4s, usually 52s"."""
    recent = list(history)[-SUSPECT_HISTORY:]
    if len(recent) < SUSPECT_MIN_HISTORY:
        return None
    usual_s = statistics.median(s for s, _ in recent)
    if run_s * SUSPECT_RATIO < usual_s:
        return f"ran {format_duration(run_s)}, usually {format_duration(usual_s)}"
    usual_bytes = statistics.median(b for _, b in recent)
    if usual_bytes >= SUSPECT_MIN_OUTPUT and output_bytes * SUSPECT_RATIO < usual_bytes:
        return f"printed {_size(output_bytes)}, usually {_size(usual_bytes)}"
    return None


def _size(count: float) -> str:
    """Bytes for people: "312 B", "48.2 KiB", "3.1 MiB"."""
    for unit in ("B", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def tick_of(job_id: str, cron: str) -> datetime | None:
    """The tick a schedule's job id names (``NAME@<tick>``); None for one outside the
    ticks (``NAME@run-...``)."""
    stamp = job_id[len(cron) + 1:] if job_id.startswith(f"{cron}@") else ""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class CronSpec:
    """A validated schedule as `cron add` asks for it; ``max_retries``/``timeout`` None take
    the config's values when a tick fires (as `enqueue` takes them when it runs)."""

    name: str
    schedule: str  # as the user wrote it (whitespace normalised)
    tz: str  # IANA name
    command: str
    overlap: Overlap = Overlap.SKIP
    catch_up: CatchUp = CatchUp.LATEST
    max_retries: int | None = None
    priority: int = 0
    timeout: float | None = None  # seconds
    queue: str = "default"
    cwd: str = "/"
    env: dict[str, str] | None = None
    jitter: float | None = None  # seconds: each tick's job is due up to this after it
    alert_after: float | None = None  # seconds: overdue past this without a success
    # Its jobs' policies (`--success-exit`, `--no-retry-exit`, `--deadline`), as their
    # JSON keys: only those given.
    policies: dict[str, Any] | None = None

    @property
    def parsed(self) -> Schedule:
        return parse_schedule(self.schedule)


@dataclass(frozen=True)
class Cron:
    """A stored schedule and what the store knows of it."""

    spec: CronSpec
    paused: bool
    next_run_at: datetime | None  # None: paused, or the expression never ticks again
    skipped: int  # ticks skipped by --overlap skip, ever
    last_job: str | None = None
    last_state: State | None = None
    created_at: datetime | None = None
    last_success_tick: datetime | None = None  # the tick of its latest completed job
    last_success_at: datetime | None = None  # when that job completed
    overdue: bool = False  # judged on read (is_overdue)
    overdue_since: datetime | None = None  # the episode under way, as a pool marked it
    suspect: str | None = None  # why its latest completed job looks like no real success
    suspects: int = 0  # suspect successes, ever
    recent_jobs: list[dict[str, Any]] = field(default_factory=list)  # `cron show` only
    skipped_ticks: list[datetime] = field(default_factory=list)  # `cron show` only, newest first

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        """The `cron list --json` document, plus the job flags and counts."""
        spec = self.spec
        return {
            "name": spec.name, "schedule": spec.schedule, "tz": spec.tz,
            "command": spec.command, "next_run_at": iso(self.next_run_at),
            "last_job": self.last_job,
            "last_state": str(self.last_state) if self.last_state else None,
            "paused": self.paused, "overlap": str(spec.overlap), "catch_up": str(spec.catch_up),
            "max_retries": spec.max_retries, "priority": spec.priority, "timeout": spec.timeout,
            "queue": spec.queue, "cwd": spec.cwd, "env": spec.env or {},
            "skipped": self.skipped, "created_at": iso(self.created_at),
            "jitter": spec.jitter, "alert_after": spec.alert_after,
            "overdue": self.overdue, "last_success_at": iso(self.last_success_at),
            "suspect": self.suspect, "suspects": self.suspects,
            "success_exit": (spec.policies or {}).get("success_exit", []),
            "no_retry_exit": (spec.policies or {}).get("no_retry_exit", []),
            "deadline": (spec.policies or {}).get("deadline"),
            "expires": (spec.policies or {}).get("expires"),
        }
