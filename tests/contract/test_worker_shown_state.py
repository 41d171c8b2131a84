"""Every reader shows a worker alike: a worker whose process is gone on this host is `lost`
in `worker list` (table and --json), in `status` (not among the active workers), in the
Python API, in the dashboard's page and `/api/status`, and in `/metrics`, at once, not only
once its lease runs out."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from queuectl.api import Queue
from queuectl.cli.entry import main
from queuectl.models import JobSpec, WorkerInfo, utcnow
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID, PID_SCOPE
from queuectl.web.app import create_app


def gone_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def workers(store: Storage) -> Iterator[None]:
    """Two workers with fresh heartbeats on this host: `alive` (this process) holds a job,
    `killed` (a process killed with -9: gone, its row left behind) held one too."""
    now = utcnow()
    store.register_worker(WorkerInfo("alive", HOST_ID, os.getpid(), "idle", None, now, now,
                                          pid_scope=PID_SCOPE))
    store.register_worker(WorkerInfo("killed", HOST_ID, gone_pid(), "idle", None, now, now,
                                          pid_scope=PID_SCOPE))
    store.enqueue([JobSpec(command="true", id="a", max_retries=3),
                   JobSpec(command="true", id="k", max_retries=3)])
    assert store.claim("alive") is not None and store.claim("killed") is not None
    yield


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", db_url, *args]) == 0
    return capsys.readouterr().out


@pytest.mark.usefixtures("workers")
def test_the_store_shows_a_dead_process_as_lost(store: Storage) -> None:
    assert {w.id: w.state for w in store.list_workers()} == {"alive": "busy", "killed": "lost"}
    stats = store.stats()
    assert (stats.workers_active, stats.workers_busy) == (1, 1)


@pytest.mark.usefixtures("workers")
def test_the_cli_table_json_and_status_agree(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = {w["id"]: w["state"] for w in json.loads(run_cli(capsys, db_url, "worker", "list",
                                                              "--json"))}
    assert listed == {"alive": "busy", "killed": "lost"}
    table = run_cli(capsys, db_url, "worker", "list").splitlines()
    rows = {line.split()[0]: line.split()[3] for line in table[1:]}
    assert rows == {"alive": "busy", "killed": "lost"}
    status = json.loads(run_cli(capsys, db_url, "status", "--json"))
    assert status["workers"] == {"active": 1, "busy": 1}
    assert re.search(r"(?m)^workers +1 active, 1 busy$", run_cli(capsys, db_url, "status"))
    with Queue(db_url) as queue:
        assert queue.status()["workers"] == {"active": 1, "busy": 1}


@pytest.mark.usefixtures("workers")
def test_the_dashboard_and_metrics_agree(db_url: str) -> None:
    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        assert client.get("/api/status").json()["workers"] == {"active": 1, "busy": 1}
        page = client.get("/").text
        assert "Workers · 1 active, 1 busy" in page
        assert re.search(r'<span class="badge lost">lost</span>', page)
        metrics = client.get("/metrics").text
    assert re.search(r"(?m)^queuectl_workers_active 1\.0$", metrics), metrics
    assert re.search(r'(?m)^queuectl_workers\{state="lost"\} 1\.0$', metrics), metrics
    assert re.search(r'(?m)^queuectl_workers\{state="busy"\} 1\.0$', metrics), metrics
