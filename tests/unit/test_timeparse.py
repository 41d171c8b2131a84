import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import InvalidValue, MalformedValue, UsageError
from queuectl.timeparse import (
    MAX_DURATION,
    format_duration,
    format_relative,
    local_to_utc,
    parse_duration,
    parse_instant,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("90", 90),
     ("1.5h", 5400), ("250ms", 0.25), ("2w", 1209600), (" 10 s ", 10), ("0", 0), ("-0", 0),
     ("1e3", 1000), ("+5m", 300)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", " ", "-", "abc", "5x", "1h-30m", "h", "nan", "inf", "5m3", "1_000", "--5", "5 parsecs",
     "\u0663", "\u0663s", "1\u0660m"],  # digits of another script: float() takes them
)
def test_text_that_is_no_duration_is_malformed(text: str) -> None:
    """Malformed is a usage error (exit 2 on the command line)."""
    with pytest.raises(MalformedValue, match="use a number of seconds or units") as info:
        parse_duration(text)
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize("text", ["1M", "1h30M", "5 M"])
def test_a_capital_m_is_refused_not_guessed(text: str) -> None:
    """M is minutes to some tools and months to others (systemd, ISO 8601): never read."""
    with pytest.raises(MalformedValue, match="minutes are m"):
        parse_duration(text)


def test_units_in_capitals_other_than_m_read_as_lower_case() -> None:
    assert [parse_duration(t) for t in ("30S", "2H", "1D", "1W")] == [30, 7200, 86400, 604800]


@pytest.mark.parametrize("text", ["-5", "-5s", "-1h30m", "1e400", f"{MAX_DURATION + 1}", "36501d"])
def test_durations_out_of_range_are_invalid_values(text: str) -> None:
    """A duration that reads but cannot be used is a refused value (exit 1), not junk."""
    with pytest.raises(InvalidValue, match="must be >= 0|at most 100 years"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1e-400", "0.5e-330", "+1e-999"])
def test_a_duration_that_rounds_to_zero_is_not_zero(text: str) -> None:
    """0 means "no limit" or "off" to most keys and flags: a tiny value must not turn into it."""
    with pytest.raises(InvalidValue, match="too small to tell from 0"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0.0", "0e5", "-0", "00m"])
def test_zero_written_any_way_is_zero(text: str) -> None:
    assert parse_duration(text) == 0


@given(st.integers(0, 99), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_parse_duration_sums_units(d: int, h: int, m: int, s: int) -> None:
    assert parse_duration(f"{d}d{h}h{m}m{s}s") == d * 86400 + h * 3600 + m * 60 + s


def test_parse_instant_utc_and_offsets() -> None:
    assert parse_instant("2026-11-22T14:03:07Z") == datetime(2026, 11, 22, 14, 3, 7, tzinfo=UTC)
    assert parse_instant("2026-11-22T16:03:07+02:00") == datetime(2026, 11, 22, 14, 3, 7,
                                                                 tzinfo=UTC)


def test_parse_instant_without_zone_is_local_time() -> None:
    naive = datetime(2026, 11, 22, 14, 3, 7)
    assert parse_instant("2026-11-22T14:03:07") == naive.astimezone().astimezone(UTC)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-45", "", "2026-11-22T25:00",
                                  "2026-12-07T15:00\0", "2026-12-07\0T15:00"])
def test_text_that_is_no_time_is_malformed(text: str) -> None:
    with pytest.raises(MalformedValue, match="ISO 8601"):
        parse_instant(text)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_beyond_the_calendar_are_invalid_values(text: str) -> None:
    with pytest.raises(InvalidValue, match="out of range") as info:
        parse_instant(text)
    assert not isinstance(info.value, UsageError)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (30, "30s"), (59, "59s"), (60, "1m"), (600, "10m"), (303, "5m3s"),
     (3600, "1h"), (3605, "1h5s"), (7500, "2h5m"), (17940, "4h59m"), (93600, "1d2h"),
     (90061, "1d1h1m1s"), (14 * 86400, "14d"), (31536000, "365d"),
     (1.5, "1.5s"), (0.25, "0.25s"), (0.35, "0.35s"), (12.345, "12.3s"), (2.0, "2s"),
     (0.0004, "0.0004s"), (1e-7, "0.0000001s"), (59.97, "1m"), (59.94, "59.9s"),
     (90.4, "1m30s"), (7500.6, "2h5m1s"), (-90, "-1m30s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(0, MAX_DURATION))
def test_format_duration_round_trips_whole_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(0, 59.9, allow_nan=False))
def test_format_duration_under_a_minute_keeps_three_digits(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=5e-3, abs=1e-9)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "now"), (0.9, "in 1s"), (-0.9, "now"), (5, "in 5s"), (-5, "5s ago"), (-5.9, "5s ago"),
     (150, "in 2m30s"), (17999.9, "in 4h59m"), (18000, "in 5h"), (-3725, "1h2m ago"),
     (93784, "in 1d2h"), (86400 + 59, "in 1d"), (59.99, "in 59s")],
)
def test_format_relative(seconds: float, text: str) -> None:
    assert format_relative(seconds) == text


# Local times as cron and calendars read them: a skipped time is the first instant after
# the gap, a repeated time its first occurrence. Zones of both hemispheres and one whose
# clocks move by 30 minutes; dates of 2026.
LOCAL_TIMES = [
    ("America/New_York", "2026-03-08T02:30", "2026-03-08T07:00:00+00:00"),  # gap: 03:00 EDT
    ("America/New_York", "2026-03-08T02:00", "2026-03-08T07:00:00+00:00"),  # gap's first second
    ("America/New_York", "2026-03-08T03:00", "2026-03-08T07:00:00+00:00"),  # just after it
    ("America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00+00:00"),  # repeated: EDT
    ("America/New_York", "2026-06-01T12:00", "2026-06-01T16:00:00+00:00"),  # ordinary
    ("Europe/London", "2026-03-29T01:30", "2026-03-29T01:00:00+00:00"),  # gap: 02:00 BST
    ("Europe/London", "2026-10-25T01:30", "2026-10-25T00:30:00+00:00"),  # repeated: BST
    ("Australia/Sydney", "2026-10-04T02:30", "2026-10-03T16:00:00+00:00"),  # gap: 03:00 AEDT
    ("Australia/Sydney", "2026-04-05T02:30", "2026-04-04T15:30:00+00:00"),  # repeated: AEDT
    ("Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:30:00+00:00"),  # 30-min gap
    ("Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-04T14:45:00+00:00"),  # 30-min repeat
    ("Asia/Kolkata", "2026-03-08T02:30", "2026-03-07T21:00:00+00:00"),  # no DST, +05:30
]


@pytest.mark.parametrize(("zone", "wall", "instant"), LOCAL_TIMES)
def test_local_times_in_a_named_zone(zone: str, wall: str, instant: str) -> None:
    found = local_to_utc(datetime.fromisoformat(wall), ZoneInfo(zone))
    assert found.isoformat() == instant


@pytest.mark.parametrize(("zone", "wall", "instant"), LOCAL_TIMES)
def test_run_at_without_zone_is_read_in_the_machines_zone(
    zone: str, wall: str, instant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert parse_instant(wall).isoformat() == instant
    finally:
        monkeypatch.undo()
        time.tzset()
