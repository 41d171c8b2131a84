"""`purge` deletes finished jobs (completed, dead, cancelled) with their attempts and
output, and nothing that is pending, waiting for a retry or running: the jobs are run by
the embedded worker on the test's clock, which moves instead of the test sleeping."""

from __future__ import annotations

import pytest

from queuectl.models import WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_purge_deletes_only_finished_jobs_with_their_logs(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    done = cli.enqueue("echo purge-me")
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    cancelled = cli.enqueue("true", "--delay", "1h")
    cli.ok("cancel", cancelled)
    assert worker.work_until_idle() == 2
    assert cli.job(done)["state"] == "completed" and cli.job(dead)["state"] == "dead"
    retrying = cli.enqueue("exit 1", "--max-retries", "5")  # backoff 2 s: failed meanwhile
    assert worker.work_until_idle() == 1
    assert cli.job(retrying)["state"] == "failed"
    # Running: held by a worker of another host, which the purge must leave alone.
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("busy", "elsewhere", 1, "idle", None, now, now))
    running = cli.enqueue("sleep 30")
    held = clocked_store.claim("busy")
    assert held is not None and held.id == running
    waiting = cli.enqueue("true", "--delay", "1h")
    assert cli.json("purge", "--older-than", "1h") == {"deleted": 0}
    clock.move(1)
    assert cli.json("purge", "--older-than", "0s", "--state", "dead") == {"deleted": 1}
    assert cli.json("purge", "--older-than", "0s") == {"deleted": 2}
    for gone in (done, dead, cancelled):
        assert cli.run("show", gone).returncode == 1
        assert cli.run("logs", gone).returncode == 1
        assert clocked_store.attempts(gone) == [] and clocked_store.read_output(gone) is None
    assert cli.job(running)["state"] == "processing"
    assert cli.job(waiting)["state"] == "pending"
    assert cli.job(retrying)["state"] == "failed"
    counts = cli.json("status")["counts"]
    assert counts["completed"] == counts["dead"] == counts["cancelled"] == 0
    assert cli.run("purge", "--older-than", "-5s").returncode in (1, 2)
    assert cli.run("purge").returncode == 2  # --older-than is required
