"""Input whose meaning depends on where it is typed: a deleted current directory, and what
could never reach the job's exec (the environment's names and sizes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from queuectl.specs import MAX_EXEC_BYTES
from tests.helpers import QUEUECTL, Cli

GONE = "the current directory no longer exists"


def _from_deleted_dir(cli: Cli, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`queuectl ARGS` run by a shell whose current directory was deleted under it."""
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    return subprocess.run(["sh", "-c", script, "sh", str(doomed), QUEUECTL, *args], env=cli.env,
                          capture_output=True, text=True, timeout=60)


def test_enqueue_from_a_deleted_directory(cli: Cli, tmp_path: Path) -> None:
    plain = _from_deleted_dir(cli, tmp_path, "enqueue", "-c", "true")
    assert plain.returncode == 1 and plain.stderr.startswith(f"queuectl: error: {GONE}")
    relative = _from_deleted_dir(cli, tmp_path, "enqueue", "-c", "true", "--cwd", "sub")
    assert relative.returncode == 1 and GONE in relative.stderr
    assert cli.json("list") == []
    absolute = _from_deleted_dir(cli, tmp_path, "enqueue", "-c", "pwd", "--cwd", str(tmp_path))
    assert absolute.returncode == 0, absolute.stderr
    job_id = absolute.stdout.strip()
    bulk = tmp_path / "jobs.jsonl"
    bulk.write_text(json.dumps({"command": "pwd", "cwd": str(tmp_path), "id": "b"}) + "\n")
    assert _from_deleted_dir(cli, tmp_path, "enqueue", "--file", str(bulk)).stdout == "b\n"
    cli.start_workers(1)
    for found in (job_id, "b"):
        cli.wait_state(found, "completed")
        assert cli.inline("logs", found) == f"{tmp_path}\n"


@pytest.mark.smoke
def test_a_job_within_the_exec_budget_starts(cli: Cli, tmp_path: Path) -> None:
    """The budget is real: a job just under it runs beside the worker's own environment."""
    env = {f"K{i}": "x" * 100_000 for i in range(10)}
    size = sum(len(f"{k}={v}") + 1 for k, v in env.items()) + len("echo ${#K9}")
    assert size <= MAX_EXEC_BYTES
    jobs = tmp_path / "near.json"
    jobs.write_text(json.dumps({"command": "echo ${#K9}", "env": env, "id": "near"}))
    assert cli.ok("enqueue", "--file", str(jobs)) == "near\n"
    cli.start_workers(1)
    cli.wait_state("near", "completed")
    assert cli.inline("logs", "near") == "100000\n"
    assert os.environ.get("K9") is None  # the job's environment stayed the job's
