"""The helper that counts jobs running at once from their spans (tests.helpers)."""

from __future__ import annotations

from datetime import datetime

from tests.helpers import most_at_once


def test_most_at_once_counts_overlaps() -> None:
    t = [datetime(2026, 1, 1, 0, 0, s) for s in range(6)]
    assert most_at_once([(t[0], t[2]), (t[1], t[3]), (t[2], t[4])]) == 2
    assert most_at_once([(t[0], t[1]), (t[1], t[2])]) == 1
    assert most_at_once([(t[0], t[5]), (t[1], t[4]), (t[2], t[3])]) == 3
