"""Retention: a running pool deletes finished jobs past it, with their attempts and
output, and nothing else."""

from __future__ import annotations

import time

from queuectl.models import AttemptResult, JobSpec, Outcome, WorkerInfo, utcnow
from queuectl.retry import after_failure
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.helpers import Cli, wait_until


def test_a_running_pool_applies_the_retention_again_later(cli: Cli) -> None:
    # What a pool adds to the worker's retention (tests/contract/test_retention_run.py): it
    # prunes again on its own (its first pass, at start, finds nothing), so a job that
    # finishes while it runs goes in its turn: here by the pass after the next job.
    cli.inline("config", "set", "retention", "1s")
    cli.start_workers(1)
    first = cli.enqueue("true", "-p", "1")
    cli.enqueue("sleep 1.5")
    wait_until(lambda: _gone(cli, [first]), timeout=20, what="the finished job to go")


def _gone(cli: Cli, ids: list[str]) -> bool:
    listed = {job["id"] for job in cli.json("list", "--limit", "0")}
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
