"""Recurring jobs as data: what a user asks for (CronSpec) and a stored schedule with what
the store knows of it (Cron). Pure: no I/O. When ticks fall is schedules.py's to say."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queuectl.errors import InvalidValue
from queuectl.models import State, iso
from queuectl.schedules import CatchUp, Overlap, Schedule, parse_schedule
from queuectl.text import CONTROL_CHARS

MAX_NAME_CHARS = 100
# A tick is skipped (--overlap skip) while the schedule's latest job is in one of these.
UNFINISHED = frozenset({State.PENDING, State.FAILED, State.PROCESSING})
SKIPPED_KEPT = 50  # skipped ticks kept per schedule for `cron show` (the count is kept whole)


def check_name(name: str) -> str:
    """A schedule's name: 1-100 characters, no control characters, no '@' (it separates the
    name from the tick in a job id). Raises InvalidValue."""
    if not 1 <= len(name) <= MAX_NAME_CHARS or CONTROL_CHARS.search(name) or "@" in name:
        raise InvalidValue(f"invalid schedule name {name[:40]!r}: 1-{MAX_NAME_CHARS} characters, "
                           "no control characters, no '@'")
    return name


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
            "success_exit": (spec.policies or {}).get("success_exit", []),
            "no_retry_exit": (spec.policies or {}).get("no_retry_exit", []),
            "deadline": (spec.policies or {}).get("deadline"),
            "expires": (spec.policies or {}).get("expires"),
        }
