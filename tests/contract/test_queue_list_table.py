"""`queue list`: the jobs running now are one column (PROCESSING, the state's name), not
two identical ones; the JSON keeps both its counts and "running"."""

from __future__ import annotations

import json
import os

import pytest

from queuectl.cli.entry import main
from queuectl.models import JobSpec, WorkerInfo, utcnow
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", db_url, *args]) == 0
    return capsys.readouterr().out


def test_queue_list_shows_running_jobs_once(
    store: Storage, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store.enqueue([JobSpec(command="true", id="a", max_retries=0, queue="q")])
    now = utcnow()
    store.register_worker(WorkerInfo("w", HOST_ID, os.getpid(), "idle", None, now, now))
    assert store.claim("w") is not None
    table = run_cli(capsys, db_url, "queue", "list").splitlines()
    assert table[0].split() == ["QUEUE", "PENDING", "PROCESSING", "COMPLETED", "FAILED", "DEAD",
                                "CANCELLED", "PAUSED", "LIMIT", "RATE", "WINDOW"]
    assert table[1].split() == ["q", "0", "1", "0", "0", "0", "0", "-", "-", "-"]
    [doc] = json.loads(run_cli(capsys, db_url, "queue", "list", "--json"))
    assert doc == {"name": "q", "counts": {"pending": 0, "processing": 1, "completed": 0,
                                           "failed": 0, "dead": 0, "cancelled": 0},
                   "running": 1, "paused": False, "limit": None, "rate": None,
                   "window": None, "tz": None, "open": True}
