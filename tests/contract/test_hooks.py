"""Hooks: `hook add/list/remove`, and the job a hook enqueues in the transaction that
changes the job, on both stores (in-process; one test with a real pool of workers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.helpers import wait_until
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def hook_jobs(cli: InProcessCli) -> list[dict[str, Any]]:
    return [job for job in cli.json("list", "--queue", "hooks", "--limit", "0")]


def test_hook_add_list_remove(cli: InProcessCli) -> None:
    cli.ok("hook", "add", "page", "--on", "dead,cancelled", "-c", "cat > event.json")
    cli.ok("hook", "add", "ok", "--on", "completed", "--queue", "billing", "-c", "true")
    listed = cli.json("hook", "list")
    assert listed == [
        {"name": "ok", "on": ["completed"], "command": "true", "queue": "billing",
         "cron": None},
        {"name": "page", "on": ["dead", "cancelled"], "command": "cat > event.json",
         "queue": None, "cron": None}]
    assert "page" in cli.ok("hook", "list")
    taken = cli.run("hook", "add", "page", "--on", "dead", "-c", "true")
    assert taken.returncode == 1 and "already exists" in taken.stderr
    cli.ok("hook", "add", "page", "--on", "failed", "-c", "true", "--replace")
    assert cli.json("hook", "list")[1]["on"] == ["failed"]
    bad = cli.run("hook", "add", "x", "--on", "exploded", "-c", "true")
    assert bad.returncode == 1 and "completed, failed, dead, cancelled, lost" in bad.stderr
    cli.ok("hook", "remove", "page")
    gone = cli.run("hook", "remove", "page")
    assert gone.returncode == 1 and "no hook named 'page'" in gone.stderr
    assert [h["name"] for h in cli.json("hook", "list")] == ["ok"]


def test_a_dead_job_enqueues_its_hook_job_with_the_event(
    clocked_cli: InProcessCli, clock: MovingClock, clocked_store: Storage, db_url: str,
) -> None:
    cli = clocked_cli
    worker = Worker(clocked_store, (), clocks=clock.clocks, url=db_url)
    cli.ok("hook", "add", "page", "--on", "dead", "-c",
           'cat > "event-$QUEUECTL_EVENT_JOB.json"; echo "$QUEUECTL_EVENT" > event.txt')
    cli.ok("hook", "add", "billing-only", "--on", "dead", "--queue", "billing", "-c", "true")
    cli.ok("enqueue", "-c", "exit 2", "--id", "nightly", "--no-retry-exit", "2")
    assert worker.work_until_idle() == 2  # the job, then its hook's job
    [made] = hook_jobs(cli)
    assert made["hook"] == {"name": "page", "event": "dead", "job": "nightly"}
    assert made["state"] == "completed" and made["queue"] == "hooks"
    assert cli.job("nightly")["hook"] is None
    doc = json.loads((cli.cwd / "event-nightly.json").read_text())
    assert doc["id"] == "nightly" and doc["state"] == "dead"
    assert doc["attempts_log"][0]["exit_code"] == 2
    assert (cli.cwd / "event.txt").read_text().strip() == "dead"


def test_events_failed_completed_cancelled_and_hook_jobs_fire_nothing(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    cli.ok("config", "set", "max-retries", "0")  # (the hook jobs' own)
    cli.ok("hook", "add", "all", "--on", "completed,failed,dead,cancelled", "-c", "exit 1")
    cli.ok("enqueue", "-c", "exit 1", "--id", "flaky", "--max-retries", "1")
    cli.ok("enqueue", "-c", "true", "--id", "fine")
    cli.ok("enqueue", "-c", "true", "--id", "later", "--delay", "1h")
    cli.ok("enqueue", "-c", "true", "--id", "after-later", "--after", "later")
    cli.ok("cancel", "later")  # and its dependent, cancelled with it
    worker.work_until_idle()
    events = sorted((j["hook"]["job"], j["hook"]["event"]) for j in hook_jobs(cli))
    assert events == [("after-later", "cancelled"), ("fine", "completed"),
                      ("flaky", "failed"), ("later", "cancelled")]
    # The hook jobs fail (exit 1) and die: no hook job of theirs.
    clock.move(3600)
    worker.work_until_idle()
    assert all(j["state"] == "dead" for j in hook_jobs(cli) if j["hook"]["job"] != "flaky")
    assert len(hook_jobs(cli)) == 5  # ... + (flaky, dead)


def test_twenty_jobs_dead_under_several_workers_make_exactly_twenty_hook_jobs(
    cli: InProcessCli,
) -> None:
    cli.ok("hook", "add", "count", "--on", "dead", "-c", "true")
    for n in range(20):
        cli.ok("enqueue", "-c", "exit 3", "--id", f"j{n}", "--no-retry-exit", "3")
    cli.start_workers(3)

    def all_ran() -> bool:
        jobs = cli.json("list", "--limit", "0")
        return sum(j["state"] == "dead" for j in jobs) == 20 and all(
            j["state"] == "completed" for j in jobs if j["queue"] == "hooks")

    wait_until(all_ran, timeout=60, what="20 dead jobs and their hooks' jobs")
    made = hook_jobs(cli)
    assert sorted(j["hook"]["job"] for j in made) == sorted(f"j{n}" for n in range(20))


def test_dashboard_lists_the_hooks(cli: InProcessCli, api: TestClient) -> None:
    cli.ok("hook", "add", "page", "--on", "dead", "-c", "echo <b>x</b>")
    assert api.get("/api/hooks").json() == cli.json("hook", "list")
    page = api.get("/hooks").text
    assert "page" in page and "echo &lt;b&gt;x&lt;/b&gt;" in page


def test_a_job_taken_back_from_a_lost_worker_fires_lost(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock,
) -> None:
    import os

    from queuectl.models import WorkerInfo, utcnow
    from queuectl.pool.recovery import recover_stale
    from queuectl.retry import after_failure
    from queuectl.storage.liveness import HOST_ID

    cli = clocked_cli
    cli.ok("hook", "add", "lost", "--on", "lost,failed", "-c", "true")
    cli.ok("enqueue", "-c", "sleep 1", "--id", "held")
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("w-gone", HOST_ID, os.getpid(), "idle", None,
                                             now, now))
    assert clocked_store.claim("w-gone") is not None
    clock.move(5)
    recovered = recover_stale(clocked_store, 1.0,
                              lambda j: after_failure(j.attempts, j.max_retries, 2, 3600))
    assert [r.job_id for r in recovered] == ["held"]
    events = sorted((j["hook"]["event"], j["hook"]["job"]) for j in hook_jobs(cli))
    assert events == [("failed", "held"), ("lost", "held")]


def test_queue_manages_hooks(db_url: str, cli: InProcessCli) -> None:
    from queuectl import Queue
    from queuectl.errors import InvalidValue

    with Queue(db_url) as q:
        hook = q.add_hook("page", on=["dead"], command="true", queue="nightly")
        assert hook.to_dict() == {"name": "page", "on": ["dead"], "command": "true",
                                  "queue": "nightly", "cron": None}
        assert [h.name for h in q.hooks()] == ["page"]
        with pytest.raises(InvalidValue, match="already exists"):
            q.add_hook("page", on="dead", command="true")
        q.remove_hook("page")
        assert q.hooks() == []


def test_no_hook_job_once_the_last_hook_is_removed(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("hook", "add", "a", "--on", "completed", "-c", "true")
    cli.ok("hook", "add", "b", "--on", "completed", "-c", "true")
    cli.ok("enqueue", "-c", "true", "--id", "one")
    assert worker.work_until_idle() == 3  # one, then a's and b's jobs
    cli.ok("hook", "remove", "a")
    cli.ok("enqueue", "-c", "true", "--id", "two")
    assert worker.work_until_idle() == 2  # two, then b's
    cli.ok("hook", "remove", "b")
    cli.ok("enqueue", "-c", "true", "--id", "three")
    assert worker.work_until_idle() == 1
    assert sorted((j["hook"]["name"], j["hook"]["job"]) for j in hook_jobs(cli)) == [
        ("a", "one"), ("b", "one"), ("b", "two")]
    cli.ok("hook", "add", "c", "--on", "completed", "-c", "true")  # and on again
    cli.ok("enqueue", "-c", "true", "--id", "four")
    assert worker.work_until_idle() == 2
