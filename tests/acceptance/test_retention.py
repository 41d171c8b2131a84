"""Retention: a running pool deletes finished jobs past it, with their attempts and
output, and nothing else."""

from __future__ import annotations

import json
import time

import pytest

from queuectl.models import AttemptResult, JobSpec, Outcome, WorkerInfo, utcnow
from queuectl.retry import after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.helpers import Cli, wait_until


@pytest.mark.slow
def test_a_running_pool_deletes_finished_jobs_past_the_retention(cli: Cli) -> None:
    keep = cli.enqueue("true", "--delay", "1h")  # pending: never deleted
    cli.ok("config", "set", "retention", "2s")
    cli.start_workers(2)
    lines = "\n".join(json.dumps({"command": f"echo {n}"}) for n in range(150))
    done = cli.ok("enqueue", "--file", "-", input=lines).split()
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    running = cli.enqueue("sleep 8")
    cli.wait_state(dead, "dead")
    cli.wait_state(running, "processing")
    # More than one batch (100) of finished jobs, deleted while the pool runs.
    wait_until(lambda: _gone(cli, [*done, dead]),
               timeout=30, what="finished jobs to be deleted")
    assert cli.job(running)["state"] == "processing"  # running: kept
    assert cli.job(keep)["state"] == "pending"
    store = open_store(cli.db_url)
    try:
        assert store.attempts(done[0]) == [] and store.read_output(done[0]) is None
    finally:
        store.close()
    cli.wait_state(running, "completed", timeout=20)
    wait_until(lambda: _gone(cli, [running]), timeout=20, what="the last job to go")


def _gone(cli: Cli, ids: list[str]) -> bool:
    listed = {job["id"] for job in cli.look("list", "--limit", "0")}
    return not listed & set(ids)


def test_retention_keeps_what_a_waiting_job_needs(store: Storage) -> None:
    store.register_worker(WorkerInfo("w", "h", 1, "idle", None, utcnow(), utcnow()))
    store.enqueue([JobSpec("exit 1", id="needed", max_retries=0),
                   JobSpec("true", id="alone", max_retries=0)])
    for outcome in (Outcome.FAILED, Outcome.SUCCEEDED):
        job = store.claim("w")
        assert job is not None
        result = AttemptResult(outcome, exit_code=int(outcome is Outcome.FAILED))
        store.finish(job, "w", result, after_attempt(
            job, result, lambda j: after_failure(j.attempts, j.max_retries, 2, 60)))
    store.enqueue([JobSpec("true", id="waiting", max_retries=0, after=("needed",))])
    time.sleep(0.01)
    assert store.prune_finished(0.001, 50) == 1  # "alone" goes; "needed" (dead) stays
    assert store.get_job("alone") is None
    needed = store.get_job("needed")
    assert needed is not None and needed.state == "dead"
    assert store.get_job("waiting") is not None
