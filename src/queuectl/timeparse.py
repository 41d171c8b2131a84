"""Durations ("30s", "1h30m", "2d") and instants (ISO 8601) from user text. Stdlib only.

Text that is not a duration or a time raises MalformedValue (a usage error on the command
line); a duration or time that reads but is out of range raises InvalidValue.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from queuectl.errors import InvalidValue, MalformedValue

# Longer durations could not be added to a timestamp (datetime ends in year 9999, stores
# keep int64 milliseconds): refused as invalid values instead of failing later.
MAX_DURATION = 100 * 365 * 86400  # seconds: a century

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# A plain number of seconds: digits, a fraction, an exponent; never "nan", "inf" or "1_0",
# which float() would take.
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?")


def parse_duration(text: str) -> float:
    """Seconds in "90", "30s", "5m", "1h30m", "2d", "1.5h".

    Raises MalformedValue for text that is no duration ("soon", "5x", "nan"), InvalidValue
    for one out of range (negative, like "-5" or "-5s", or over 100 years)."""
    raw = text.strip().lower().replace(" ", "")
    negative = raw.startswith("-")
    seconds = _unsigned_seconds(text, raw[1:] if raw.startswith(("-", "+")) else raw)
    if negative and seconds > 0:
        raise InvalidValue(f"invalid duration {text!r}: must be >= 0")
    if seconds > MAX_DURATION:
        raise InvalidValue(f"invalid duration {text!r}: at most 100 years")
    return seconds


def _unsigned_seconds(text: str, body: str) -> float:
    if _NUMBER.fullmatch(body):
        return float(body)  # "1e400" is a number, infinitely long: out of range, not junk
    pos, total = 0, 0.0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise MalformedValue(
            f"invalid duration {text!r}: use a number of seconds or units like 30s, 5m, 1h30m, 2d"
        )
    return total


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date/time; one without a zone is local time. Returns aware UTC.

    Raises MalformedValue for text that is no time, InvalidValue for a time that cannot be
    represented in UTC (the first or last hours of the calendar)."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedValue(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-11-22T14:00:00Z or 2026-11-22 15:00"
        ) from None
    try:
        if ts.tzinfo is None:
            ts = ts.astimezone()  # naive means local wall-clock time
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidValue(f"invalid time {text!r}: out of range") from None


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
