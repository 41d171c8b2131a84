"""What people read, alike in the CLI and the dashboard: durations in one format (`12m28s`),
and NEXT RUN that says `now` only for a job that is due."""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from queuectl.cli.entry import main
from queuectl.models import JobSpec, WorkerInfo, to_ms, utcnow
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.web.app import create_app

LOOPBACK = "http://127.0.0.1"


def set_heartbeat(db_url: str, worker_id: str, ms: int) -> None:
    """Plant a worker's last heartbeat (epoch ms), as if it had been silent since."""
    sql = "UPDATE workers SET heartbeat_at = {} WHERE id = {}"
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s", "%s").encode(), (ms, worker_id))
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute(sql.format("?", "?"), (ms, worker_id))


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", db_url, *args]) == 0
    return capsys.readouterr().out


def table_rows(text: str) -> dict[str, list[str]]:
    """A plain table's rows by their first cell, cut at runs of two spaces."""
    return {cells[0]: cells for cells in
            ([c.strip() for c in line.split("  ") if c.strip()] for line in text.splitlines())}


def test_ages_are_durations_as_everywhere(
    store: Storage, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = utcnow()
    store.register_worker(WorkerInfo("w", HOST_ID, os.getpid(), "idle", None, now, now))
    set_heartbeat(db_url, "w", to_ms(now) - 748_300)
    # Real time runs on while the command and the page are made (over 0.7 s once, in a
    # loaded CI run): the age may have grown by a second or two, never changed its form.
    rows = table_rows(run_cli(capsys, db_url, "worker", "list"))
    assert re.fullmatch(r"12m(28|29|30)s ago", rows["w"][-1]), rows
    with TestClient(create_app(db_url, None), base_url=LOOPBACK) as client:
        assert re.search(r'<td class="num">12m(28|29|30)s ago</td>', client.get("/").text)


def test_next_run_says_now_only_for_a_due_job(
    store: Storage, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = utcnow() + timedelta(seconds=0.9)
    store.enqueue([JobSpec(command="true", id="soon", max_retries=0, run_at=soon),
                   JobSpec(command="true", id="due", max_retries=0)])
    rows = table_rows(run_cli(capsys, db_url, "list"))
    assert rows["soon"][2] == "in 1s", rows
    assert rows["due"][2] == "now", rows
    with TestClient(create_app(db_url, None), base_url=LOOPBACK) as client:
        page = client.get("/jobs").text
    assert ">in 1s</span>" in page


