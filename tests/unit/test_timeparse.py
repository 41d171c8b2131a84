from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import InvalidValue, MalformedValue, UsageError
from queuectl.timeparse import MAX_DURATION, format_duration, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("90", 90),
     ("1.5h", 5400), ("250ms", 0.25), ("2w", 1209600), (" 10 s ", 10), ("0", 0), ("-0", 0),
     ("1e3", 1000), ("+5m", 300)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", " ", "-", "abc", "5x", "1h-30m", "h", "nan", "inf", "5m3", "1_000", "--5", "5 parsecs"],
)
def test_text_that_is_no_duration_is_malformed(text: str) -> None:
    """Malformed is a usage error (exit 2 on the command line)."""
    with pytest.raises(MalformedValue, match="use a number of seconds or units") as info:
        parse_duration(text)
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize("text", ["-5", "-5s", "-1h30m", "1e400", f"{MAX_DURATION + 1}", "36501d"])
def test_durations_out_of_range_are_invalid_values(text: str) -> None:
    """A duration that reads but cannot be used is a refused value (exit 1), not junk."""
    with pytest.raises(InvalidValue, match="must be >= 0|at most 100 years"):
        parse_duration(text)


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


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-45", "", "2026-11-22T25:00"])
def test_text_that_is_no_time_is_malformed(text: str) -> None:
    with pytest.raises(MalformedValue, match="ISO 8601"):
        parse_instant(text)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_beyond_the_calendar_are_invalid_values(text: str) -> None:
    with pytest.raises(InvalidValue, match="out of range") as info:
        parse_instant(text)
    assert not isinstance(info.value, UsageError)


def test_format_duration() -> None:
    assert format_duration(0.35) == "0.35s"
    assert format_duration(42) == "42s"
    assert format_duration(303) == "5m03s"
    assert format_duration(7500) == "2h05m"
