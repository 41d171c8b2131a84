"""Recurring jobs' schedules: what a schedule means, and when its ticks fall. Pure: no I/O,
no clock (every "now" is passed in), so every rule here is a function to test.

A schedule is a five-field cron expression (cronsim reads and iterates it), a macro
(@hourly ... @yearly, the classic aliases of cron expressions), or ``every DUR``.

Ticks of a cron expression are wall-clock times in the schedule's zone, and each wall-clock
time is one tick at most, by the rules `enqueue --run-at` uses for local times
(timeparse.local_to_utc):
- a time the clocks skip (a spring-forward gap) runs once, at the first instant after the
  gap; several skipped times (``*/15`` across the gap) are that one tick;
- a time the clocks show twice (the hour repeated in autumn) runs once, at its first
  occurrence.
cronsim iterates naive wall-clock times; turning each into an instant here (rather than
letting the library do it) gives one rule for every expression: cronsim itself (like
Debian's cron) runs ``*/15 2 * * *`` twice in a repeated hour, croniter even runs a
fixed-time job such as ``30 2 * * *`` twice.

``every DUR`` ticks at real-time multiples of DUR since the Unix epoch (UTC), whatever the
zone: ``every 10m`` at :00, :10, :20 ... of every hour, on every host alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from queuectl.errors import InvalidValue, MalformedValue
from queuectl.models import iso
from queuectl.timeparse import local_to_utc, parse_duration

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MIN_EVERY_MS = 1000  # shortest `every` interval: ticks are whole seconds
# Wall-clock readings of one instant may lie this far apart around a change of offset
# (zones have jumped a whole day across the date line): how far around a reading to look.
_WALL_SLACK = timedelta(days=1)
_EVERY = re.compile(r"every\s+(.+)", re.IGNORECASE)


class Overlap(StrEnum):
    SKIP = "skip"  # a tick whose previous job is still unfinished is skipped and recorded
    ALLOW = "allow"  # every tick enqueues
    REPLACE = "replace"  # a tick cancels the previous job if unfinished, and enqueues


class CatchUp(StrEnum):
    LATEST = "latest"  # after downtime, one job for the most recent missed tick
    NONE = "none"  # a tick that came while no pool ran is missed, however short ago


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: ``text`` as the user gave it (whitespace normalised), and either
    the five-field ``expression`` it stands for or ``every_ms``, its interval."""

    text: str
    expression: str | None = None
    every_ms: int | None = None

    def describe(self) -> str:
        """In words, for people: "At 02:00 on Monday through Friday", "every 30s"."""
        if self.every_ms is not None:
            return self.text
        assert self.expression is not None
        try:
            return str(CronSim(self.expression, datetime(2000, 1, 1)).explain())
        except Exception:  # noqa: BLE001 - words are a nicety; the expression is the truth
            return self.text


def parse_schedule(text: str) -> Schedule:
    """A schedule from user text: ``*/5 * * * *``, ``0 2 * * mon-fri``, ``@daily``,
    ``every 30s``. Raises MalformedValue for text that is no schedule (a usage error),
    InvalidValue for an interval out of range."""
    norm = " ".join(text.split())
    if match := _EVERY.fullmatch(norm):
        return _every(norm, match.group(1))
    expression = MACROS.get(norm.lower(), norm)
    if norm.startswith("@") and norm.lower() not in MACROS:
        raise MalformedValue(f"unknown schedule macro {norm!r}; valid: {', '.join(MACROS)}")
    if len(expression.split(" ")) != 5:
        raise MalformedValue(
            f"invalid schedule {text!r}: use five cron fields (minute hour day month weekday, "
            "e.g. '*/5 * * * *'), a macro like @daily, or 'every 30s'"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise MalformedValue(f"invalid schedule {text!r}: {str(exc).lower()}") from None
    return Schedule(norm, expression=expression)


def _every(text: str, duration: str) -> Schedule:
    seconds = parse_duration(duration)
    every_ms = round(seconds * 1000)
    if every_ms < MIN_EVERY_MS:
        raise InvalidValue(f"invalid schedule {text!r}: the interval must be at least 1s")
    return Schedule(text, every_ms=every_ms)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (Europe/Berlin, UTC). Raises InvalidValue for an unknown one."""
    if not name or name != name.strip() or "\0" in name:
        raise InvalidValue(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValue(f"unknown time zone {name!r}: use an IANA name like "
                           "Europe/Berlin or UTC") from None


def next_tick(schedule: Schedule, tz: tzinfo, after: datetime) -> datetime | None:
    """The first tick strictly after the instant ``after`` (aware), as an aware UTC
    datetime; None if the schedule never ticks again (cronsim looks some years ahead)."""
    if schedule.every_ms is not None:
        step = schedule.every_ms
        return _from_ms((_to_ms(after) // step + 1) * step)
    assert schedule.expression is not None
    # Wall-clock times before the reading of ``after`` name instants at or before it (the
    # instants grow with the times: see local_to_utc), so the search starts there; times
    # of a repeated hour already passed in its first occurrence are stepped over.
    start = _wall(after, tz)
    for wall in CronSim(schedule.expression, start - timedelta(microseconds=1)):
        instant = local_to_utc(wall, tz)
        if instant > after:
            return instant
    return None


def previous_tick(schedule: Schedule, tz: tzinfo, at: datetime) -> datetime | None:
    """The last tick at or before the instant ``at``, as an aware UTC datetime; None if
    there is none (cronsim looks some years back)."""
    if schedule.every_ms is not None:
        step = schedule.every_ms
        return _from_ms(_to_ms(at) // step * step)
    assert schedule.expression is not None
    # Read backwards from a wall time safely past ``at``, stepping over the times that
    # name later instants.
    walls = CronSim(schedule.expression, _wall(at, tz) + _WALL_SLACK, reverse=True)
    for wall in walls:
        instant = local_to_utc(wall, tz)
        if instant <= at:
            return instant
    return None


MAX_BACKFILL = 1000  # ticks one `cron backfill` may enqueue


def ticks_between(schedule: Schedule, tz: tzinfo, start: datetime, end: datetime,
                  limit: int = MAX_BACKFILL) -> list[datetime]:
    """Every tick from ``start`` to ``end`` (both included), oldest first, each once (the
    daylight-saving rules of next_tick); at most ``limit`` + 1, so that a caller can tell a
    range with too many."""
    found: list[datetime] = []
    tick = next_tick(schedule, tz, start - timedelta(milliseconds=1))
    while tick is not None and tick <= end and len(found) <= limit:
        found.append(tick)
        tick = next_tick(schedule, tz, tick)
    return found


@dataclass(frozen=True)
class Firing:
    """What to do for a schedule whose next tick has come: ``tick`` is the tick to enqueue
    a job for (None: none, they were missed), ``next_at`` the tick to wait for then."""

    tick: datetime | None
    next_at: datetime | None


def plan_firing(schedule: Schedule, tz: tzinfo, due_at: datetime, now: datetime,
                catch_up: CatchUp, watched: Callable[[datetime], bool],
                lease: timedelta) -> Firing:
    """For a schedule whose stored next tick ``due_at`` is at or before ``now``: at most one
    job. ``watched(tick)`` says whether a pool ran when ``tick`` came (see
    storage/cron_flow.py); ``lease`` is the silence after which a worker counts as lost.

    - Fired late by less than a lease while a pool ran (a loaded or briefly stalled pool,
      not downtime): ``due_at``, and the next tick to wait for is the one after it, so each
      tick that came gets its job, one firing at a time.
    - Otherwise, never a burst: ``due_at`` when only it has passed, else the latest tick
      that has, and then the first tick after ``now``.

    With ``catch_up`` none a tick no pool saw come is missed (no job), however short ago,
    and one a pool saw come but fires late (busy) runs late."""
    following = next_tick(schedule, tz, due_at)
    if following is not None and following <= now:
        if now - following < lease and watched(following):
            missed = catch_up is CatchUp.NONE and not watched(due_at)
            return Firing(None if missed else due_at, following)
        latest = previous_tick(schedule, tz, now)
        tick = latest if latest is not None and latest >= following else following
    else:
        tick = due_at
    missed = catch_up is CatchUp.NONE and not watched(tick)
    return Firing(None if missed else tick, next_tick(schedule, tz, now))


def jitter_ms(name: str, tick: datetime, jitter: int) -> int:
    """The offset (ms, in [0, ``jitter``)) by which the job of ``name``'s ``tick`` becomes
    due after it (``--jitter``): a hash of the name and the tick's instant, so every host
    finds the same one, and a schedule's ticks spread over the range rather than all
    landing at one offset. 0 without jitter."""
    if jitter <= 0:
        return 0
    key = f"{name}\0{_to_ms(tick)}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % jitter


def tick_job_id(name: str, tick: datetime) -> str:
    """The id of the job a tick enqueues: ``NAME@2026-11-22T02:00:00.000Z``. Unique per
    tick, so two pools firing the same tick cannot both enqueue it."""
    text = iso(tick)
    assert text is not None
    return f"{name}@{text}"


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def _to_ms(ts: datetime) -> int:
    return int(round(ts.timestamp() * 1000))


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
