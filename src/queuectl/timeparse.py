"""Durations ("30s", "1h30m", "2d") and instants (ISO 8601) from user text. Stdlib only.

Text that is not a duration or a time raises MalformedValue (a usage error on the command
line); a duration or time that reads but is out of range raises InvalidValue.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo

from queuectl.errors import InvalidValue, MalformedValue

# Longer durations could not be added to a timestamp (datetime ends in year 9999, stores
# keep int64 milliseconds): refused as invalid values instead of failing later.
MAX_DURATION = 100 * 365 * 86400  # seconds: a century

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Patterns, compiled by re on first use and kept in its cache: most commands that import
# this module parse no duration, and compiling them cost each of those commands.
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)"  # re.ASCII
# A plain number of seconds: digits, a fraction, an exponent; never "nan", "inf", "1_0" or
# digits of other scripts ("٣"), which float() would take.
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"  # re.ASCII
_NONZERO = r"[1-9]"


def parse_duration(text: str) -> float:
    """Seconds in "90", "30s", "5m", "1h30m", "2d", "1.5h", "250ms", "2w" (units in any
    case but M, which is refused rather than read as minutes or months).

    Raises MalformedValue for text that is no duration ("soon", "5x", "nan"), InvalidValue
    for one out of range (negative, like "-5" or "-5s", or over 100 years)."""
    if "M" in text:  # minutes to us, months to systemd and to ISO 8601's P1M: never guessed
        raise MalformedValue(f"invalid duration {text!r}: minutes are m (there is no unit"
                             " for months)")
    raw = text.strip().lower().replace(" ", "")
    negative = raw.startswith("-")
    body = raw[1:] if raw.startswith(("-", "+")) else raw
    seconds = _unsigned_seconds(text, body)
    if (negative and seconds > 0) or seconds > MAX_DURATION:
        raise InvalidValue(f"invalid duration {text!r}: must be >= 0 and at most 100 years")
    if seconds == 0 and re.search(_NONZERO, body.split("e")[0]):
        # "1e-400" is not 0 but rounds to it, and 0 means "no limit" or "off" to most keys.
        raise InvalidValue(f"invalid duration {text!r}: too small to tell from 0")
    return seconds


def _unsigned_seconds(text: str, body: str) -> float:
    if re.fullmatch(_NUMBER, body, re.ASCII):
        return float(body)  # "1e400" is a number, infinitely long: out of range, not junk
    pos, total = 0, 0.0
    for match in re.finditer(_PART, body, re.ASCII):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise MalformedValue(
            f"invalid duration {text!r}: use a number of seconds or units like 30s, 5m, 1h30m, 2d"
            " (ms, s, m, h, d, w)"
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
        if "\0" in raw:  # fromisoformat stops reading at a NUL: "15:00\0" would be 15:00
            raise ValueError(raw)
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedValue(
            f"invalid time {text!r}: use ISO 8601, e.g. 2026-11-22T14:00:00Z or 2026-11-22 15:00"
        ) from None
    try:
        if ts.tzinfo is None:
            return local_to_utc(ts)  # naive means local wall-clock time
        return ts.astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidValue(f"invalid time {text!r}: out of range") from None


def local_to_utc(wall: datetime, zone: tzinfo | None = None) -> datetime:
    """The instant a wall-clock time names in ``zone`` (None: the machine's local zone), by
    the rules people know from cron and calendars:

    - a time the clocks skip (inside a daylight-saving gap: 02:30 on a spring-forward night)
      means the first instant after the gap (03:00 new time), never an earlier one;
    - a time that happens twice (the hour repeated in autumn) means its first occurrence.

    Python's own reading (PEP 495, fold=0) gets the repeated hour right but puts a skipped
    time as far past the gap as it was into it (02:30 becomes 03:30), so the gap is found
    and its end located here. Returns an aware UTC datetime."""
    first = _instant(wall.replace(fold=0), zone)
    if _wall(first, zone) == wall.replace(tzinfo=None, fold=0):
        return first  # an ordinary time, or the first of a repeated one
    other = _instant(wall.replace(fold=1), zone)
    before, after = sorted((first, other))
    target = _offset(after, zone)
    # The gap's end lies between the two readings (a gap is at most a day); bisect to the
    # second, then to the microsecond is pointless: zones change on whole seconds.
    lo, hi = before.timestamp(), after.timestamp()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(datetime.fromtimestamp(mid, UTC), zone) == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _instant(wall: datetime, zone: tzinfo | None) -> datetime:
    if zone is None:
        return wall.replace(tzinfo=None).astimezone().astimezone(UTC)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _wall(instant: datetime, zone: tzinfo | None) -> datetime:
    local = instant.astimezone() if zone is None else instant.astimezone(zone)
    return local.replace(tzinfo=None, fold=0)


def _offset(instant: datetime, zone: tzinfo | None) -> timedelta | None:
    return (instant.astimezone() if zone is None else instant.astimezone(zone)).utcoffset()


# --- durations for people -------------------------------------------------------------
# One written form for every duration the CLI shows, the form parse_duration reads:
# units from days down to seconds, empty units left out.

_SHOWN_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
SUBMINUTE_DIGITS = 3  # significant digits of a duration under a minute: 1.5s, 0.25s, 12.3s


def format_duration(seconds: float) -> str:
    """A duration as a person would type it: "1d2h", "4h59m", "10m", "30s", "1.5s", "0s".

    From a minute up, whole seconds in days, hours, minutes and seconds, empty units left
    out (3605 is "1h5s"), a fraction of a second rounded away; under a minute,
    three significant digits ("12.3s", "1.5s", "0.25s"), trailing zeros dropped. So
    parse_duration(format_duration(x)) == x for every whole number of seconds. Weeks are
    not used ("14d"). A negative duration is written with a leading "-"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        short = _subminute(seconds)
        if short is not None:
            return short
    whole = round(seconds)
    parts = []
    for unit, size in _SHOWN_UNITS:
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _subminute(seconds: float) -> str | None:
    """``seconds`` (under 60) to SUBMINUTE_DIGITS significant digits, or None when that
    rounds up to a whole minute (59.97 s is "1m")."""
    if seconds == 0:
        return "0s"
    decimals = max(0, SUBMINUTE_DIGITS - 1 - math.floor(math.log10(seconds)))
    text = f"{seconds:.{decimals}f}"  # fixed point: never "1e-05"
    if float(text) >= 60:
        return None
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}s"


def format_relative(seconds_from_now: float) -> str:
    """When something happens, for a person: "in 4h59m", "5s ago", "now".

    "now" for a moment that has come, up to a second ago; a moment to come is never "now":
    one under a second away is "in 1s". Otherwise the two largest units, counted down to
    whole units (a job due in 4h59m59.9s is "in 4h59m", one due in 1d2h3m is "in 1d2h")."""
    span = abs(seconds_from_now)
    if seconds_from_now > 0:  # not due yet: "now" would tell a person to expect it already
        span = max(span, 1.0)
    if span < 1:
        return "now"
    text = format_duration(_two_units(int(span)))
    return f"in {text}" if seconds_from_now > 0 else f"{text} ago"


def format_age(seconds: float) -> str:
    """How long ago something happened ``seconds`` ago, as ``format_relative`` words:
    "12m28s ago", "now"; a negative age (the other host's clock ahead) is "now"."""
    return format_relative(-max(0.0, seconds))


def _two_units(whole: int) -> int:
    """``whole`` seconds cut down to the unit below its largest one: 17999 (4h59m59s) to
    17940 (4h59m)."""
    for (_, size), (_, finer) in zip(_SHOWN_UNITS, _SHOWN_UNITS[1:], strict=False):
        if whole >= size:
            return whole - whole % finer
    return whole
