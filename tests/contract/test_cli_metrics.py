"""`metrics` on a store without attempts, and its refusals (in-process)."""

from __future__ import annotations

from tests.helpers import Cli


def test_empty_store_has_zero_counts_and_null_figures(cli: Cli) -> None:
    doc = cli.json("metrics")
    assert (doc["completed"], doc["failed_attempts"], doc["dead"]) == (0, 0, 0)
    assert doc["success_rate"] is None
    assert doc["run_seconds"] == {"avg": None, "p50": None, "p95": None, "max": None}
    assert doc["wait_seconds"] == {"avg": None, "p95": None}
    assert doc["workers"] == []


def test_bad_since_is_one_clear_line(cli: Cli) -> None:
    proc = cli.run("metrics", "--since", "yesterday-ish")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1  # neither duration nor time
    assert "--since" in proc.stderr and "Traceback" not in proc.stderr
    assert cli.run("metrics", "--since", "2999-01-01T00:00:00Z").returncode == 1
    assert cli.run("metrics", "--since", "2020-01-01T00:00:00Z", "--json").returncode == 0

