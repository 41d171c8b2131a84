"""The API is typed for its users' checkers (py.typed): mypy sees Queue's real signatures
through the lazy exports of `queuectl`, and so catches a wrong call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """
from datetime import datetime
from queuectl import InvalidJob, Job, JobNotFound, Queue

def submit(command: str) -> str:
    with Queue() as q:
        job: Job = q.enqueue(command, priority=5, timeout=600, env={"A": "1"})
        created: datetime = job.created_at
        try:
            return q.get(job.id).id + str(created)
        except (JobNotFound, InvalidJob):
            return ""
"""


@pytest.mark.timeout(300)
def test_users_code_type_checks_and_a_wrong_call_is_caught(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER_CODE)
    bad = tmp_path / "bad.py"
    bad.write_text(USER_CODE + "\nQueue().enqueue(42, priority='high')\n")
    args = [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
            "--cache-dir", str(tmp_path / "cache")]
    ok = subprocess.run([*args, str(good)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
    wrong = subprocess.run([*args, str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert wrong.returncode == 1
    assert 'Argument 1 to "enqueue" of "Queue" has incompatible type "int"' in wrong.stdout
    assert 'Argument "priority" to "enqueue" of "Queue"' in wrong.stdout
