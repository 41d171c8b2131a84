"""The per-job line written straight to the pool's log looks exactly like a logged record."""

from __future__ import annotations

import re
import subprocess
import sys

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
