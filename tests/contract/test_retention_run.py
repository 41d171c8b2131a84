"""Retention applied by the worker: finished jobs past it are deleted with their attempts
and output, more than one batch of them, and nothing pending or running. The embedded
worker runs the jobs; the test's clock moves past the retention."""

from __future__ import annotations

import json

import pytest

from queuectl.models import AttemptResult, Outcome, WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.retry import after_failure
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")

HOUR = 3600.0
PASSES = 20  # prune passes allowed to delete the lot (each is one batch at least)


def listed(cli: InProcessCli) -> set[str]:
    return {job["id"] for job in cli.json("list", "--limit", "0")}


def prune_until_gone(store: Storage, clock: MovingClock, cli: InProcessCli,
                     ids: set[str]) -> None:
    """Start embedded workers (a new one prunes first thing) until ``ids`` are gone."""
    for _ in range(PASSES):
        Worker(store, (), clocks=clock.clocks).work_until_idle()
        if not listed(cli) & ids:
            return
    raise AssertionError(f"still listed after {PASSES} passes: {sorted(listed(cli) & ids)}")


def test_finished_jobs_past_the_retention_are_deleted_and_nothing_else(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    keep = cli.enqueue("true", "--delay", "3h")  # pending: never deleted
    cli.ok("config", "set", "retention", "1h")
    lines = "\n".join(json.dumps({"command": f"echo {n}"}) for n in range(150))
    done = cli.ok("enqueue", "--file", "-", input=lines).split()
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    assert worker.work_until_idle() == 151
    # Running: held by a worker of another host that heartbeats all along.
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("busy", "elsewhere", 1, "idle", None, now, now))
    running = cli.enqueue("sleep 8")
    held = clocked_store.claim("busy")
    assert held is not None and held.id == running
    assert Worker(clocked_store, (), clocks=clock.clocks).work_until_idle() == 0
    assert listed(cli) >= {*done, dead}  # within the retention: kept
    clock.move(HOUR + 1)
    clocked_store.heartbeat("busy", held)
    # More than one batch of finished jobs.
    prune_until_gone(clocked_store, clock, cli, {*done, dead})
    assert cli.job(running)["state"] == "processing"  # running: kept
    assert cli.job(keep)["state"] == "pending"
    assert clocked_store.attempts(done[0]) == [] and clocked_store.read_output(done[0]) is None
    ok = AttemptResult(Outcome.SUCCEEDED, exit_code=0)
    clocked_store.finish(held, "busy", ok, after_attempt(
        held, ok, lambda j: after_failure(j.attempts, j.max_retries, 2, 60)))
    assert cli.job(running)["state"] == "completed"
    clock.move(HOUR + 1)
    clocked_store.heartbeat("busy", held)
    prune_until_gone(clocked_store, clock, cli, {running})
    assert cli.job(keep)["state"] == "pending"
