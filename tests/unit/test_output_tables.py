"""Tables on a terminal: an id, a state or a time is never split over two lines, and no
column is dropped, however narrow the terminal; commands and errors wrap at their spaces."""

from __future__ import annotations

import re

import pytest

from queuectl import output

HEADERS = ["ID", "STATE", "TRIES", "COMMAND", "UPDATED", "LAST ERROR"]
ROWS = [
    ["1s2egoq5k8", "completed", "1/4", "echo this is a rather long command line with words",
     "2026-12-07T20:01:02.151Z", ""],
    ["a-job-with-a-long-name", "dead", "1/1", "exit 3", "2026-12-07T20:01:11.359Z",
     "exit code 3"],
]


@pytest.mark.parametrize("columns", [40, 80, 120, 200])
def test_words_are_never_split_and_no_column_is_dropped(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")
    output._rich_table(HEADERS, [list(r) for r in ROWS], state_col=1, title=None)
    shown = capsys.readouterr().out
    words = set(re.findall(r"\S+", shown))
    for row in ROWS:
        for cell in (row[0], row[1], row[2], row[4]):
            assert cell in words, (cell, shown)
    assert all(h.split()[0] in words for h in HEADERS), shown
    for row in ROWS:  # a command is all there, wrapped at spaces at most
        assert row[3].split()[0] in words
    if columns >= 200:  # room enough: one line per job
        assert len(shown.splitlines()) == 1 + len(ROWS), shown
