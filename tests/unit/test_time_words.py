"""format_relative: when a job will run (or ran), in the words the CLI and dashboard show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.timeparse import format_age, format_relative, parse_duration

NOW = datetime(2026, 11, 22, 14, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "words"),
    [(5 * 3600 - 0.2, "in 4h59m"), (5 * 3600, "in 5h"), (4.9, "in 4s"), (1.0, "in 1s"),
     (42.7, "in 42s"), (303, "in 5m3s"), (2 * 86400 + 3600, "in 2d1h"),
     (0.99, "in 1s"), (0.4, "in 1s"), (0.001, "in 1s"), (0, "now"), (-0.5, "now"),
     (-5.6, "5s ago"), (-303, "5m3s ago"), (-7500, "2h5m ago")],
)
def test_format_relative(offset: float, words: str) -> None:
    assert format_relative(offset) == words


# How coarse the words may be at each size: seconds below an hour, minutes below a day.
def _precision(seconds: float) -> float:
    return 1 if seconds < 3600 else 60 if seconds < 86400 else 3600


@given(st.floats(1, 100 * 86400), st.booleans())
def test_format_relative_never_rounds_up(seconds: float, ahead: bool) -> None:
    offset = timedelta(seconds=seconds)
    seconds = offset.total_seconds()  # as a timestamp holds it (whole microseconds)
    words = format_relative(seconds if ahead else -seconds)
    amount = words.removeprefix("in ").removesuffix(" ago")
    assert words == (f"in {amount}" if ahead else f"{amount} ago")
    shown = parse_duration(amount)  # the words read back as the same duration syntax
    assert shown <= seconds < shown + _precision(seconds)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(748.3, "12m28s ago"), (0.4, "now"), (-2.0, "now"), (5.6, "5s ago"), (90061, "1d1h ago")],
)
def test_format_age_says_how_long_ago_as_every_duration(seconds: float, words: str) -> None:
    assert format_age(seconds) == words
