"""The per-job line written straight to the pool's log looks exactly like a logged record."""

from __future__ import annotations

import errno
import io
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import TextIO

import pytest

SCRIPT = r"""
import logging, sys
from queuectl.pool.log import configure_logging, job_lines
configure_logging()
log = logging.getLogger("queuectl.worker")
lines = job_lines(log)
assert lines is not None
log.info("job %s completed after %.3fs", "a", 0.5)
lines("job b completed after 0.500s (100% done)")
logging.getLogger().setLevel(logging.WARNING)
print(job_lines(log) is None, file=sys.stdout)
logging.getLogger().setLevel(logging.INFO)
logging.getLogger("queuectl").addHandler(logging.NullHandler())
print(job_lines(log) is None, file=sys.stdout)
"""

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[(\d+)\] (.*)$")


def test_job_line_has_the_records_format_and_steps_aside_when_logging_is_changed() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True)
    logged, written = proc.stderr.splitlines()
    a, b = LINE.match(logged), LINE.match(written)
    assert a and b, proc.stderr
    assert a.group(1) == b.group(1)  # the same pid
    assert a.group(2) == "job a completed after 0.500s"
    assert b.group(2) == "job b completed after 0.500s (100% done)"
    # INFO filtered out, or another handler on the way: back to logging itself.
    assert proc.stdout.split() == ["True", "True"]



STARTED = r"""
import logging, types
from queuectl.pool.log import configure_logging, job_lines, say_started
configure_logging()
job = types.SimpleNamespace(id="j1", last_attempt=2, command="sleep 1\necho done")
say_started(job_lines(logging.getLogger("queuectl.worker")), job)
"""


def test_a_job_start_is_one_line_with_its_attempt_and_command() -> None:
    proc = subprocess.run([sys.executable, "-c", STARTED], capture_output=True, text=True,
                          check=True)
    [line] = proc.stderr.splitlines()
    found = LINE.match(line)
    assert found and found.group(2) == "job j1 started (attempt 2): sleep 1\\necho done"


def test_a_started_line_shows_the_command_on_one_line_and_cut_short() -> None:
    from queuectl.pool.log import COMMAND_SHOWN, shown_command

    assert shown_command("make test") == "make test"
    assert shown_command("printf 'a\nb'\x1b[2J\t") == "printf 'a\\nb'\\x1b[2J\\t"
    long = shown_command("x" * 500)
    assert len(long) == COMMAND_SHOWN and long.endswith("...")


def test_a_job_line_to_a_terminal_that_went_away_is_dropped() -> None:
    """A closed terminal answers EIO: the worker runs on (its job already recorded)."""
    from queuectl.pool.log import JobLines, SecondCachingFormatter

    class Gone(io.TextIOWrapper):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    handler: logging.StreamHandler[TextIO] = logging.StreamHandler(Gone(io.BytesIO()))
    JobLines(handler, SecondCachingFormatter())("job j1 completed after 0.001s")


def test_a_postgres_store_has_one_log_whatever_its_url_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a password or without, the default port written or not: one database, one log;
    another database, or the same name on another server, another."""
    from queuectl.pool.supervisor import log_path

    monkeypatch.setenv("QUEUECTL_HOME", str(tmp_path))
    same = {log_path(u) for u in ("postgresql://q:s3cret@db:5432/jobs",
                                  "postgresql://q@db/jobs", "postgres://q:other@db:5432/jobs")}
    assert len(same) == 1 and "s3cret" not in same.pop()
    assert log_path("postgresql://q@db/other") != log_path("postgresql://q@db/jobs")
    assert log_path("postgresql://q@db2/jobs") != log_path("postgresql://q@db/jobs")
