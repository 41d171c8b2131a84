"""Durations ("30s", "1h30m", "2d") and instants (ISO 8601) from user text. Stdlib only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from queuectl.errors import InvalidValue

# Longer durations could not be added to a timestamp (datetime ends in year 9999, stores
# keep int64 milliseconds): refused as invalid values instead of failing later.
MAX_DURATION = 100 * 365 * 86400  # seconds: a century

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Seconds in "90", "30s", "5m", "1h30m", "2d", "1.5h". Refuses negatives and junk."""
    raw = text.strip().lower().replace(" ", "")
    if not raw:
        raise InvalidValue("empty duration")
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if value < 0 or value != value or value == float("inf"):
            raise InvalidValue(f"invalid duration {text!r}: must be a finite number >= 0")
        return _bounded(text, value)
    pos, total = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(raw):
        raise InvalidValue(
            f"invalid duration {text!r}: use a number of seconds or units like 30s, 5m, 1h30m, 2d"
        )
    return _bounded(text, total)


def _bounded(text: str, seconds: float) -> float:
    if seconds > MAX_DURATION:
        raise InvalidValue(f"invalid duration {text!r}: at most 100 years")
    return seconds


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date/time; one without a zone is local time. Returns aware UTC."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-11-22T14:00:00Z or 2026-11-22 15:00"
        ) from None
    if ts.tzinfo is None:
        ts = ts.astimezone()  # naive means local wall-clock time
    return ts.astimezone(UTC)


def format_duration(seconds: float) -> str:
    """Short human form: 0.35s, 42s, 5m03s, 2h05m, 3d04h."""
    if seconds < 10:
        return f"{seconds:.2f}s" if seconds < 1 else f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


# --- Instants relative to now, in words (the CLI and the dashboard say the same) ----------


def format_relative(when: datetime, now: datetime) -> str:
    """How far ``when`` is from ``now``: "in 4h59m", "5s ago", or "now" within a second.

    Truncated, never rounded up: a job delayed by 5h reads "in 4h59m" a moment later, and
    "in 1s" until the last second has passed.
    """
    seconds = (when - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    words = _whole_duration(abs(seconds))
    return f"in {words}" if seconds > 0 else f"{words} ago"


def _whole_duration(seconds: float) -> str:
    """format_duration without fractions of a second: counting down in tenths would flicker."""
    return f"{int(seconds)}s" if seconds < 10 else format_duration(seconds)
