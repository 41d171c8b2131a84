"""Run windows of queues (`queue window Q WINDOW --tz ZONE`): parsing a window, and the open
stretch of time at or after an instant — pure.

A window is ``HH:MM-HH:MM``, optionally after days (``mon-fri 22:00-06:00``, ``sat,sun
00:00-24:00``). One that ends at or before its start wraps midnight and belongs to the day
it opens: ``fri 22:00-06:00`` is open from Friday 22:00 to Saturday 06:00. Times are wall
times in the window's zone, read by the rules cron's ticks follow (timeparse.local_to_utc):
a time the clocks skip means the first instant after the gap, a repeated one its first
occurrence; so a window closes at the first occurrence of its end, and a window that lies
wholly inside a gap does not open that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from queuectl.errors import InvalidValue, UsageError
from queuectl.timeparse import local_to_utc

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
LOOKAHEAD_DAYS = 9  # a window of any days opens again within a week: a day more each side
MERGE_DAYS = 7  # back-to-back stretches (a window open all day) joined up to this far

_FORM = re.compile(r"^(?:(?P<days>[a-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class Window:
    """A parsed window: the days it opens on (0 = Monday; all seven when none are given),
    and its start and end in minutes after midnight (end up to 1440, 24:00); it wraps
    midnight when end <= start."""

    text: str
    days: frozenset[int]
    start: int
    end: int

    @property
    def wraps(self) -> bool:
        return self.end <= self.start


def parse_window(text: str) -> Window:
    """``[DAYS ]HH:MM-HH:MM``. Text of another form is a usage error (exit 2); a time or day
    out of range, or an empty window, is refused (exit 1)."""
    found = _FORM.match(" ".join(text.strip().lower().split()))
    if found is None:
        raise UsageError(f"invalid window {text!r}: HH:MM-HH:MM, optionally after days "
                         "(mon-fri 22:00-06:00, sat,sun 00:00-24:00)")
    start, end = _minutes(text, found["start"]), _minutes(text, found["end"])
    if start == DAY_MINUTES:
        raise InvalidValue(f"invalid window {text!r}: it cannot open at 24:00")
    if start == end or (end == 0 and start == 0):
        raise InvalidValue(f"invalid window {text!r}: it opens and closes at the same time "
                           "(a whole day is 00:00-24:00)")
    days = _days(text, found["days"]) if found["days"] else frozenset(range(7))
    return Window(text.strip(), days, start, end)


def _minutes(text: str, hhmm: str) -> int:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidValue(f"invalid window {text!r}: {hhmm} is no time of day (00:00-24:00)")
    return hours * 60 + minutes


def _days(text: str, given: str) -> frozenset[int]:
    days: set[int] = set()
    for part in given.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidValue(f"invalid window {text!r}: days are {', '.join(DAYS)}, as "
                               "lists (sat,sun) or ranges (mon-fri)")
        lo, hi = DAYS.index(first), DAYS.index(last or first)
        days.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(hi + 1)])
    return frozenset(days)


def _stretch(window: Window, tz: tzinfo, day: datetime) -> tuple[datetime, datetime]:
    """The instants the window opens and closes for the one that opens on local ``day``
    (naive midnight); equal when the clocks skip all of it."""
    opens = local_to_utc(day + timedelta(minutes=window.start), tz)
    end_day = day + timedelta(days=1) if window.wraps else day
    closes = local_to_utc(end_day + timedelta(minutes=window.end), tz)
    return opens, max(opens, closes)


def next_open(window: Window, tz: tzinfo, at: datetime) -> tuple[datetime, datetime]:
    """The stretch (opens, closes), aware UTC, that holds the instant ``at`` (opens <= at <
    closes) or else the first one after it; stretches that meet are joined up to
    MERGE_DAYS ahead."""
    today = at.astimezone(tz).replace(tzinfo=None, hour=0, minute=0, second=0,
                                      microsecond=0, fold=0)
    stretches = []
    for offset in range(-1, LOOKAHEAD_DAYS + MERGE_DAYS):
        day = today + timedelta(days=offset)
        if day.weekday() in window.days:
            opens, closes = _stretch(window, tz, day)
            if closes > opens:
                stretches.append((opens, closes))
    found: tuple[datetime, datetime] | None = None
    for opens, closes in stretches:
        if found is None:
            if closes > at:
                found = (opens, closes)
        elif opens <= found[1] and opens - found[0] <= timedelta(days=MERGE_DAYS):
            found = (found[0], max(found[1], closes))
        else:
            break
    assert found is not None  # some day of the week is always among the days looked at
    return found


def is_open(window: Window, tz: tzinfo, at: datetime) -> bool:
    """Whether the window holds the instant ``at``."""
    opens, _ = next_open(window, tz, at)
    return opens <= at


def opens_in_words(window: Window, tz: tzinfo, at: datetime, zone_name: str) -> str:
    """When a closed window opens next, for people: "22:00 Europe/Berlin", or with the day
    when that is not within a day of ``at`` ("sat 22:00 Europe/Berlin")."""
    opens, _ = next_open(window, tz, at)
    local = opens.astimezone(tz)
    day = "" if opens - at < timedelta(days=1) else f"{DAYS[local.weekday()]} "
    return f"{day}{local:%H:%M} {zone_name}"


def to_ms(instant: datetime) -> int:
    return int(round(instant.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
