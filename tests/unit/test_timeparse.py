from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import InvalidValue
from queuectl.timeparse import format_duration, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("90", 90),
     ("1.5h", 5400), ("250ms", 0.25), ("2w", 1209600), (" 10 s ", 10), ("0", 0)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5", "5x", "1h-30m", "h", "nan", "inf", "5m3"])
def test_parse_duration_refuses_junk(text: str) -> None:
    with pytest.raises(InvalidValue):
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


def test_parse_instant_refuses_junk() -> None:
    with pytest.raises(InvalidValue, match="ISO 8601"):
        parse_instant("tomorrow")


def test_format_duration() -> None:
    assert format_duration(0.35) == "0.35s"
    assert format_duration(42) == "42s"
    assert format_duration(303) == "5m03s"
    assert format_duration(7500) == "2h05m"
