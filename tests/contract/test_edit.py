"""`edit` changes a waiting job (pending or failed), in-process on both stores: the fields
given, checked as enqueue checks them; a running or ended job is refused and its row left
exactly as it was; and an edit never interleaves with a claim: every attempt runs the job
as it was or as edited, whole."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from queuectl import InvalidJob, Queue
from queuectl.app import enqueue as submitting
from queuectl.errors import WrongState
from queuectl.models import JobSpec, WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    """The dashboard's JSON API on the test's store."""
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def raw_row(db_url: str, job_id: str) -> tuple[Any, ...]:
    """The job's row as the store keeps it, every column, read past queuectl."""
    row: Any
    if db_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db_url) as pg:
            row = pg.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()
    else:
        lite = sqlite3.connect(db_url)
        try:
            row = lite.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        finally:
            lite.close()
    assert row is not None
    return tuple(row)


def _shown(cli: InProcessCli, job_id: str) -> dict[str, Any]:
    """`show --json` of the job without its history: the document `edit --json` prints."""
    doc = cli.job(job_id)
    return {k: v for k, v in doc.items()
            if k not in ("attempts_log", "dependents", "held_back")}


def test_edit_changes_the_fields_given_and_keeps_the_rest(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    job = cli.enqueue("echo old", "--id", "j1", "-p", "1", "--timeout", "5m", "--max-retries",
                      "2", "-e", "A=1", "-e", "B=2", "--tag", "x", "--tag", "y",
                      "--unique-key", "k", "--delay", "1h")
    before = cli.job(job)
    edited = cli.json("edit", job, "-c", 'echo "new $C"', "-p", "7", "-e", "C=3", "--tag", "z",
                      "--json")
    assert {k: edited[k] for k in ("command", "priority", "env", "tags")} == {
        "command": 'echo "new $C"', "priority": 7, "env": {"C": "3"}, "tags": ["z"]}
    kept = ("id", "state", "timeout", "max_retries", "queue", "cwd", "run_at", "created_at",
            "unique_key", "held", "after")
    assert {k: edited[k] for k in kept} == {k: before[k] for k in kept}
    assert edited["updated_at"] >= before["updated_at"] and _shown(cli, job) == edited
    assert cli.ok("edit", job, "--timeout", "0", "--max-retries", "0", "--queue", "q",
                  "--cwd", "/") == f"{job}\n"
    doc = cli.job(job)
    assert (doc["timeout"], doc["max_retries"], doc["queue"], doc["cwd"]) == (None, 0, "q", "/")
    cleared = cli.json("edit", job, '{"env": {}, "tags": []}', "--json")
    assert (cleared["env"], cleared["tags"], cleared["command"]) == ({}, [], 'echo "new $C"')
    cli.ok("edit", job, "-e", "C=3", "--delay", "10m")
    assert before["created_at"] < cli.job(job)["run_at"] < before["run_at"]
    assert worker.work_until_idle() == 0
    clock.move(600)
    assert worker.work_until_idle() == 1
    assert cli.job(job)["state"] == "completed"
    assert cli.ok("logs", job) == "new 3\n"


def test_edit_takes_failed_held_and_waiting_jobs_as_they_are(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    failed = cli.enqueue("exit 3", "--max-retries", "1")
    assert worker.work_until_idle() == 1
    assert cli.job(failed)["state"] == "failed"
    edited = cli.json("edit", failed, "-c", "echo fixed", "--run-at",
                      "2020-01-01T00:00:00Z", "--json")
    assert (edited["state"], edited["attempts"], edited["run_at"]) == (
        "failed", 1, "2020-01-01T00:00:00.000Z")  # the retry is due at once now
    held = cli.enqueue("echo held", "--hold")
    dep = cli.enqueue("true", "--delay", "1h")
    waiting = cli.enqueue("echo waiting", "--after", dep)
    assert cli.json("edit", held, "-p", "5", "--json")["held"] is True
    assert cli.json("edit", waiting, "-p", "5", "--json")["waiting_for"] == [dep]
    assert worker.work_until_idle() == 1  # the edited failed job only
    assert (cli.job(failed)["state"], cli.ok("logs", failed)) == ("completed", "fixed\n")
    assert cli.json("status")["held"] == 1 and cli.json("status")["blocked"] == 1
    clock.move(3600)
    assert worker.work_until_idle() == 2  # dep, then the job that waited on it
    assert cli.ok("logs", waiting) == "waiting\n"


def test_edit_changes_a_waiting_jobs_policies_and_the_worker_follows_them(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    """The policy flags edit as enqueue gives them; the attempt is judged by the edited
    ones (exit 3 completes the job instead of failing it)."""
    cli = clocked_cli
    job = cli.enqueue("exit 3", "--max-retries", "2", "--no-retry-exit", "4", "--delay", "1h")
    edited = cli.json("edit", job, "--success-exit", "3,64-78", "--no-retry-exit", "5",
                      "--deadline", "2h", "--expires", "3h", "--delay", "0s", "--json")
    assert (edited["success_exit"], edited["no_retry_exit"], edited["deadline"]) == (
        [3, "64-78"], [5], 7200.0)
    assert edited["expires_at"] is not None
    refused = cli.run("edit", job, "--success-exit", "1-x")
    assert refused.returncode == 2 and cli.job(job)["success_exit"] == [3, "64-78"]
    assert worker.work_until_idle() == 1
    done = cli.job(job)
    assert (done["state"], done["exit_code"]) == ("completed", 3)


def test_a_running_or_ended_job_is_refused_and_its_row_left_as_it_was(
    clocked_cli: InProcessCli, clocked_store: Storage, worker: Worker, db_url: str,
) -> None:
    cli = clocked_cli
    done = cli.enqueue("true")
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    cancelled = cli.enqueue("true", "--delay", "1h")
    cli.ok("cancel", cancelled)
    assert worker.work_until_idle() == 2
    running = cli.enqueue("sleep 60")
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("w1", HOST_ID, os.getpid(), "idle", None, now, now))
    claimed = clocked_store.claim("w1")
    assert claimed is not None and claimed.id == running
    for job_id, state in [(done, "completed"), (dead, "dead"), (cancelled, "cancelled"),
                          (running, "processing")]:
        row = raw_row(db_url, job_id)
        refused = cli.run("edit", job_id, "-c", "echo changed", "-p", "9", "--tag", "t")
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == (f"queuectl: error: job '{job_id}' is {state}, "
                                  "not pending or failed\n")
        with pytest.raises(WrongState, match=f"is {state}"):
            submitting.edit(clocked_store, job_id, {"command": "echo changed"})
        assert raw_row(db_url, job_id) == row
    # A refused value leaves a waiting job as it was too.
    waiting = cli.enqueue("true", "--delay", "1h")
    row = raw_row(db_url, waiting)
    assert cli.run("edit", waiting, "-c", "echo changed", "--queue", "").returncode == 1
    assert raw_row(db_url, waiting) == row


def test_the_store_refuses_an_edit_of_a_job_claimed_since_it_was_read(store: Storage) -> None:
    """The guard is the statement's own: the state read before it does not decide."""
    job = store.enqueue([JobSpec(command="echo old", max_retries=0)])[0]
    now = utcnow()
    store.register_worker(WorkerInfo("w1", HOST_ID, os.getpid(), "idle", None, now, now))
    assert store.claim("w1") is not None
    with pytest.raises(WrongState, match="is processing, not pending or failed"):
        store.edit(job.id, {"command": "echo new"})
    assert store.get_job(job.id).command == "echo old"  # type: ignore[union-attr]


def test_edit_from_python_and_the_json_api(
    clocked_cli: InProcessCli, worker: Worker, api: TestClient, db_url: str,
) -> None:
    cli = clocked_cli
    done = cli.enqueue("true")
    assert worker.work_until_idle() == 1
    with Queue(db_url) as q:
        job = q.enqueue("echo hi", delay=3600, env={"A": "1"})
        edited = q.edit(job.id, command="echo there", timeout=timedelta(minutes=2),
                        tags=["a"], env={}, run_at=datetime(2030, 1, 1, tzinfo=UTC))
        assert (edited.command, edited.timeout, edited.tags, edited.env) == (
            "echo there", 120, ("a",), None)
        assert edited.run_at == datetime(2030, 1, 1, tzinfo=UTC)
        assert q.get(job.id).to_dict() == {**edited.to_dict(), "attempts_log": [], "dependents": [],
                                           "held_back": None}
        with pytest.raises(WrongState, match="is completed"):
            q.edit(done, priority=1)
        with pytest.raises(InvalidJob, match="invalid queue name"):
            q.edit(job.id, queue="")
        with pytest.raises(InvalidJob, match="unique_key cannot be edited"):
            q.edit(job.id, unique_key="other")
        with pytest.raises(InvalidJob, match="nothing to edit"):
            q.edit(job.id)
    answer = api.post(f"/api/jobs/{job.id}/edit", json={"priority": 4, "delay": "1m"})
    assert answer.status_code == 200
    assert (answer.json()["priority"], answer.json()["command"]) == (4, "echo there")
    assert _shown(cli, job.id) == answer.json()
    for body, status in [({"priority": "high"}, 400), ({"colour": "red"}, 400),
                         ({"command": ""}, 400), ({}, 400)]:
        refused = api.post(f"/api/jobs/{job.id}/edit", json=body)
        assert refused.status_code == status and refused.json()["error"]
    assert api.post(f"/api/jobs/{job.id}/edit", content=b"[").status_code == 400
    assert api.post(f"/api/jobs/{done}/edit", json={"priority": 1}).status_code == 409
    assert api.post("/api/jobs/ghost/edit", json={"priority": 1}).status_code == 404
    assert api.get(f"/api/jobs/{job.id}/edit").status_code == 405
    assert _shown(cli, job.id) == answer.json()


# Two whole versions of a job: the command prints which it is, the environment which it has.
VERSIONS: list[dict[str, Any]] = [
    {"command": 'printf "%s/a" "$V"', "env": {"V": "a"}, "tags": ["a"]},
    {"command": 'printf "%s/b" "$V"', "env": {"V": "b"}, "tags": ["b"]},
]


def test_an_edit_and_a_claim_never_interleave(db_url: str) -> None:
    """A worker runs the jobs while edits flip each waiting job between two versions until
    it is refused (claimed): each attempt ran the version of the last edit that went
    through, whole (never one version's command with the other's environment)."""
    jobs = 12
    editing, running = open_store(db_url), open_store(db_url)
    try:
        ids = [job.id for job in editing.enqueue(
            [JobSpec(command=VERSIONS[0]["command"], env=VERSIONS[0]["env"], max_retries=0)
             for _ in range(jobs)])]
        last: dict[str, int] = {}
        worker = Worker(running, ())
        ran = 0

        def work() -> None:
            # A claim passes over a row an edit holds (PostgreSQL: SKIP LOCKED), and an
            # embedded worker that found nothing due returns: it runs again until every job
            # has run (a pool's worker is woken by the edit instead).
            nonlocal ran
            while ran < jobs:
                ran += worker.work_until_idle()

        thread = threading.Thread(target=work)
        thread.start()
        try:
            for job_id in ids:
                version = 0
                while True:
                    version = 1 - version
                    try:
                        submitting.edit(editing, job_id, VERSIONS[version])
                    except WrongState:
                        break
                    last[job_id] = version
        finally:
            thread.join()
        assert ran == jobs
        for job_id in ids:
            ran = last.get(job_id, 0)
            job = editing.get_job(job_id)
            assert job is not None and job.state == "completed"
            assert (job.command, job.env, list(job.tags)) == (
                VERSIONS[ran]["command"], VERSIONS[ran]["env"],
                VERSIONS[ran]["tags"] if job_id in last else [])
            out = editing.read_output(job_id)
            assert out is not None and out.data == f"{'ab'[ran]}/{'ab'[ran]}".encode()
    finally:
        editing.close()
        running.close()
