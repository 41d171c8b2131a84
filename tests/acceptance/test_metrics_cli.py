"""`queuectl metrics` end to end, on every store backend."""

from __future__ import annotations

import pytest

from tests.helpers import Cli


@pytest.mark.smoke
def test_empty_store_has_zero_counts_and_null_figures(cli: Cli) -> None:
    doc = cli.json("metrics")
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (0, 0, 0)
    assert doc["success_rate"] is None
    assert doc["run_seconds"] == {"avg": None, "p50": None, "p95": None, "max": None}
    assert doc["wait_seconds"] == {"avg": None, "p95": None}
    assert doc["workers"] == []


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


def test_bad_since_is_one_clear_line(cli: Cli) -> None:
    proc = cli.run("metrics", "--since", "yesterday-ish")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1  # neither duration nor time
    assert "--since" in proc.stderr and "Traceback" not in proc.stderr
    assert cli.run("metrics", "--since", "2999-01-01T00:00:00Z").returncode == 1
    assert cli.run("metrics", "--since", "2020-01-01T00:00:00Z", "--json").returncode == 0
