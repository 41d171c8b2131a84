"""`queuectl metrics` over attempts the embedded worker ran, retries on the moved clock."""

from __future__ import annotations

import pytest

from queuectl.pool.worker import Worker
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_figures_follow_the_attempts(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("config", "set", "backoff-base", "1")
    ok = [cli.enqueue("true") for _ in range(3)]
    bad = cli.enqueue("exit 4", "--max-retries", "1")
    assert worker.work_until_idle() == 4
    clock.move(1.1)  # past the retry's backoff
    assert worker.work_until_idle() == 1
    assert {cli.job(job)["state"] for job in ok} == {"completed"}
    assert cli.job(bad)["state"] == "dead"
    doc = cli.json("metrics", "--since", "10m")
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (3, 2, 1)
    assert doc["success_rate"] == 0.6
    assert doc["throughput_per_min"] == 0.3
    run = doc["run_seconds"]
    assert 0 <= run["p50"] <= run["p95"] <= run["max"]
    assert doc["wait_seconds"]["avg"] >= 0
    (shown,) = doc["workers"]
    assert shown["id"] == worker.id
    assert (shown["completed"], shown["failed_attempts"]) == (3, 2)
    human = cli.ok("metrics")
    assert "success rate     60.0%" in human and worker.id in human
