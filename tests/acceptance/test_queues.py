"""Queues an operator steers, driven through the real `queuectl` on both stores:
limits held by pools on two hosts, checked from the jobs' own recorded times; pause and
resume while jobs run; bad input that writes nothing."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

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


def test_a_job_cancelled_while_running_holds_its_place_until_its_process_ends(
    cli: Cli, tmp_path: Path
) -> None:
    """Limit 1; the running job ignores SIGTERM, so after the cancel it lives on through the
    worker's grace until SIGKILL. The next job of the queue starts only after it is gone:
    its first line comes after the cancelled job's last."""
    log = tmp_path / "log"
    cli.ok("queue", "limit", "lim", "1")
    cli.start_workers(2)
    wait_until(lambda: cli.active_workers() == 2, what="the pool to start")
    stubborn = cli.enqueue(f'trap "" TERM; while true; do echo A >> {log}; sleep 0.05; done',
                           "--queue", "lim")
    nxt = cli.enqueue(f"echo B >> {log}", "--queue", "lim")
    wait_until(lambda: log.exists() and "A" in log.read_text(), what="the first job to run")
    cli.ok("cancel", stubborn)
    proc = cli.run("wait", nxt, "--timeout", "60", timeout=90)
    assert proc.returncode == 0, proc.stderr
    lines = log.read_text().split()
    assert lines[-1] == "B" and lines.count("B") == 1, lines

@pytest.mark.slow
def test_pause_and_resume_while_jobs_run(cli: Cli, tmp_path: Path) -> None:
    cli.start_workers(2)
    running = [cli.enqueue("sleep 3", "--queue", "reports") for _ in range(2)]
    for job_id in running:
        cli.wait_state(job_id, "processing")
    cli.ok("queue", "pause", "reports")
    assert cli.json("status")["paused_queues"] == ["reports"]
    held = [cli.enqueue("true", "--queue", "reports") for _ in range(2)]
    other = cli.enqueue("true", "--queue", "default")
    cli.wait_state(other, "completed")  # the pool works on, other queues included
    for job_id in running:  # running jobs finish
        cli.wait_state(job_id, "completed")
    for job_id in held:  # and nothing of the paused queue starts, now workers are idle
        assert cli.job(job_id)["state"] == "pending"
    [reports] = [q for q in cli.json("queue", "list") if q["name"] == "reports"]
    assert reports["paused"] is True and reports["counts"]["pending"] == 2
    assert "paused queues: reports" in cli.run("worker", "list").stderr
    assert cli.ok("queue", "resume", "reports").strip() == "queue reports: resumed"
    for job_id in held:  # picked up at once, not after an idle poll
        cli.wait_state(job_id, "completed", timeout=10)
    assert cli.json("status")["paused_queues"] == []


@pytest.mark.smoke
def test_limit_zero_holds_back_and_raising_it_releases(cli: Cli) -> None:
    cli.ok("queue", "limit", "gpu", "0")
    cli.start_workers(1)
    job_id = cli.enqueue("true", "--queue", "gpu")
    done = cli.enqueue("true")
    cli.wait_state(done, "completed")
    assert cli.job(job_id)["state"] == "pending"
    cli.ok("queue", "limit", "gpu", "none")
    cli.wait_state(job_id, "completed", timeout=10)
    assert cli.json("queue", "list")[1]["limit"] is None
