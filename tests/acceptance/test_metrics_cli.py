"""`queuectl metrics` end to end, on every store backend."""

from __future__ import annotations

from tests.helpers import Cli


def test_figures_follow_the_attempts(cli: Cli) -> None:
    cli.ok("config", "set", "backoff-base", "1")
    ok = [cli.enqueue("true") for _ in range(3)]
    bad = cli.enqueue("exit 4", "--max-retries", "1")
    cli.start_workers(1)
    for job in ok:
        cli.wait_state(job, "completed")
    cli.wait_state(bad, "dead")
    doc = cli.json("metrics", "--since", "10m")
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (3, 2, 1)
    assert doc["success_rate"] == 0.6
    assert doc["throughput_per_min"] == 0.3
    run = doc["run_seconds"]
    assert 0 <= run["p50"] <= run["p95"] <= run["max"]
    assert doc["wait_seconds"]["avg"] >= 0
    (worker,) = doc["workers"]
    assert (worker["completed"], worker["failed_attempts"]) == (3, 2)
    human = cli.ok("metrics")
    assert "success rate     60.0%" in human and worker["id"] in human
