"""Queues an operator steers, driven through the real `queuectl` on both stores:
limits held by pools on two hosts, checked from the jobs' own recorded times; a resume or
a raised limit waking an idle pool; bad input that writes nothing. (Pause while jobs run
and a limit of zero run in-process: tests/contract/test_queues_run.py.)"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from queuectl.storage import open_store
from tests.helpers import Cli, most_at_once, wait_until

HOSTS = ("host-a", "host-b")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def attempt_spans(db_url: str, ids: list[str]) -> list[tuple[datetime, datetime]]:
    """Every attempt's recorded start and end (read from the store: 40 `show` calls would
    cost more than the jobs)."""
    store = open_store(db_url)
    try:
        spans = []
        for job_id in ids:
            for attempt in store.attempts(job_id):
                assert attempt.finished_at is not None
                spans.append((attempt.started_at, attempt.finished_at))
        return spans
    finally:
        store.close()


def two_pools(cli: Cli, per_host: int = 2) -> None:
    for host in HOSTS:
        cli.start_workers(per_host, env={"QUEUECTL_HOST_ID": host})
    wait_until(lambda: cli.active_workers() == 2 * per_host, what="both pools to start")


@pytest.mark.parametrize("limit", [1, 3])
def test_a_limit_holds_across_four_workers_on_two_hosts(cli: Cli, limit: int) -> None:
    cli.ok("queue", "limit", "render", str(limit))
    two_pools(cli)
    lines = "\n".join(json.dumps({"command": "sleep 0.05", "queue": "render"})
                      for _ in range(40))
    ids = cli.ok("enqueue", "--file", "-", input=lines).split()
    # Jobs of another queue run beside them, unlimited.
    free = [cli.enqueue("sleep 0.05", "--queue", "free") for _ in range(8)]
    proc = cli.run("wait", *ids, *free, "--timeout", "120", timeout=150)
    assert proc.returncode == 0, proc.stderr
    spans = attempt_spans(cli.db_url, ids)
    assert len(spans) == 40
    # Reached (so by `limit` workers at once: with 3, on both hosts), never exceeded.
    assert most_at_once(spans) == limit
    [render] = [q for q in cli.json("queue", "list") if q["name"] == "render"]
    assert render["limit"] == limit and render["counts"]["completed"] == 40


@pytest.mark.smoke
def test_a_resume_or_a_raised_limit_wakes_an_idle_pool(cli: Cli) -> None:
    # What a pool adds to tests/contract/test_queues_run.py: the change reaches a worker
    # that waits idle, without a restart.
    cli.ok("queue", "pause", "reports")
    cli.ok("queue", "limit", "gpu", "0")
    cli.start_workers(1)
    paused = cli.enqueue("true", "--queue", "reports")
    limited = cli.enqueue("true", "--queue", "gpu")
    cli.wait_state(cli.enqueue("true"), "completed")
    assert cli.job(paused)["state"] == cli.job(limited)["state"] == "pending"
    cli.ok("queue", "resume", "reports")
    cli.ok("queue", "limit", "gpu", "none")
    cli.wait_state(paused, "completed", timeout=10)
    cli.wait_state(limited, "completed", timeout=10)
