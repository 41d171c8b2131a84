"""Run windows: parsing, and the open stretch at or after an instant, in zones with daylight
saving (the rules of cron's ticks: a skipped time is the first instant after the gap, a
repeated one its first occurrence), checked against the wall clock by hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl.errors import InvalidValue, UsageError
from queuectl.timeparse import local_to_utc
from queuectl.windows import Window, is_open, next_open, opens_in_words, parse_window

BERLIN = ZoneInfo("Europe/Berlin")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_parsing() -> None:
    w = parse_window("mon-fri 22:00-06:00")
    assert (w.days, w.start, w.end, w.wraps) == (frozenset(range(5)), 22 * 60, 6 * 60, True)
    assert parse_window("sat,sun 00:00-24:00").days == frozenset({5, 6})
    assert parse_window("fri-mon 9:30-17:00").days == frozenset({4, 5, 6, 0})
    assert parse_window("09:00-17:00").days == frozenset(range(7))
    assert parse_window("  Mon  09:00-17:00 ").text == "Mon  09:00-17:00"


@pytest.mark.parametrize("text", ["", "9-17", "09:00", "mon 09:00 17:00", "09:00-17:00 mon",
                                  "mon- 09:00-10:00x"])
def test_text_of_another_form_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_window(text)


@pytest.mark.parametrize("text", ["25:00-06:00", "10:60-11:00", "24:00-06:00", "09:00-09:00",
                                  "funday 09:00-10:00", "mon-someday 09:00-10:00",
                                  "24:30-01:00", "00:00-00:00"])
def test_values_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_window(text)


def test_a_wrapping_window_belongs_to_the_day_it_opens() -> None:
    w = parse_window("fri 22:00-06:00")
    # Friday 2026-12-04 22:00 Berlin (21:00Z) to Saturday 06:00 (05:00Z).
    assert next_open(w, BERLIN, z("2026-12-04T12:00Z")) == (z("2026-12-04T21:00Z"),
                                                              z("2026-12-05T05:00Z"))
    assert is_open(w, BERLIN, z("2026-12-05T04:59Z"))
    assert not is_open(w, BERLIN, z("2026-12-05T05:00Z"))
    assert not is_open(w, BERLIN, z("2026-12-04T03:00Z"))  # Friday early: Thursday's is not


def test_back_to_back_days_are_one_stretch() -> None:
    w = parse_window("sat,sun 00:00-24:00")
    assert next_open(w, BERLIN, z("2026-12-02T12:00Z")) == (z("2026-12-04T23:00Z"),
                                                              z("2026-12-06T23:00Z"))


def test_spring_forward_opens_right_after_the_gap_and_a_window_inside_it_never_opens() -> None:
    # Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z).
    assert next_open(parse_window("02:30-04:00"), BERLIN, z("2026-03-29T00:00Z"))[0] == \
        z("2026-03-29T01:00Z")
    opens, _ = next_open(parse_window("02:10-02:50"), BERLIN, z("2026-03-28T23:30Z"))
    assert opens == z("2026-03-30T00:10Z")  # not on the 29th: the clocks skip it all


def test_fall_back_closes_at_the_first_end() -> None:
    # Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z); 02:00-03:00 happens twice.
    opens, closes = next_open(parse_window("01:00-02:30"), BERLIN, z("2026-10-24T22:00Z"))
    assert (opens, closes) == (z("2026-10-24T23:00Z"), z("2026-10-25T00:30Z"))


def test_opening_in_words() -> None:
    w = parse_window("22:00-06:00")
    assert opens_in_words(w, BERLIN, z("2026-12-04T12:00Z"), "Europe/Berlin") == \
        "22:00 Europe/Berlin"
    weekend = parse_window("sat 10:00-11:00")
    assert opens_in_words(weekend, BERLIN, z("2026-12-01T12:00Z"), "Europe/Berlin") == \
        "sat 10:00 Europe/Berlin"


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney",
         "America/Santiago", "UTC"]
CHANGES = [z(t) for t in ("2026-03-29T01:00Z", "2026-10-25T01:00Z", "2026-03-08T07:00Z",
                          "2026-11-01T06:00Z", "2026-04-04T15:00Z", "2026-10-03T15:30Z",
                          "2026-04-04T16:00Z", "2026-10-03T16:00Z", "2026-04-05T03:00Z",
                          "2026-09-06T04:00Z", "2026-06-15T12:00Z")]
TIMES = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)] + ["24:00"]
DAY_SETS = ["", "mon-fri ", "sat,sun ", "sun ", "fri-mon ", "wed "]


def wall_open(w: Window, tz: ZoneInfo, at: datetime) -> bool:
    """By the wall clock alone: the local time lies in a window opened today, or in the
    tail of one opened yesterday that wraps."""
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute + local.second / 60
    day = local.weekday()
    today = day in w.days and minute >= w.start and (w.wraps or minute < w.end)
    tail = w.wraps and (day - 1) % 7 in w.days and minute < w.end
    return today or tail


def repeated(tz: ZoneInfo, at: datetime) -> bool:
    """The instant reads as a wall time that came before (the second pass of a repeated
    hour): there the wall clock cannot say on its own."""
    naive = at.astimezone(tz).replace(tzinfo=None)
    return local_to_utc(naive, tz) != at


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DAY_SETS), st.sampled_from(TIMES[:-1]), st.sampled_from(TIMES),
       st.sampled_from(ZONES), st.sampled_from(CHANGES),
       st.integers(-36 * 3600, 36 * 3600))
def test_open_agrees_with_the_wall_clock_and_never_goes_back(
    days: str, start: str, end: str, tz_name: str, change: datetime, offset_s: int,
) -> None:
    if start == end:
        return
    w, tz = parse_window(f"{days}{start}-{end}"), ZoneInfo(tz_name)
    at = change + timedelta(seconds=offset_s)
    opens, closes = next_open(w, tz, at)
    assert opens < closes and closes > at
    if not repeated(tz, at):
        assert (opens <= at) == wall_open(w, tz, at)
    if opens > at:  # closed until then: open at that instant, and closed just before it
        before = opens - timedelta(seconds=1)
        if not repeated(tz, opens) and not repeated(tz, before):
            assert wall_open(w, tz, opens) and (before < at or not wall_open(w, tz, before))
    later = next_open(w, tz, closes)  # the next stretch comes after this one
    assert later[0] >= closes
