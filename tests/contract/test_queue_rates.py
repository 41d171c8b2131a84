"""`queue rate Q N/DUR`: at most N jobs of Q start in any window of DUR, across every host,
enforced in the claim; an idle worker plans to look again when the oldest start leaves the
window. Shown by `queue list`, `status`, `show`, /metrics and the dashboard."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from queuectl.models import AttemptResult, Job, JobSpec, Outcome, Rate, WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.retry import NextStep, after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient

OK = AttemptResult(Outcome.SUCCEEDED, 0, None, b"")


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def register(store: Storage, worker_id: str, host: str) -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, host, os.getpid(), "idle", None, now, now))
    return worker_id


def run_one(store: Storage, worker: str) -> Job | None:
    """Claim a job and finish it at once (a rate counts starts, not running jobs)."""
    job = store.claim(worker)
    if job is not None:
        store.finish(job, worker, OK, after_attempt(job, OK, policy))
    return job


def test_starts_per_window_across_hosts(clocked_store: Storage, clock: MovingClock) -> None:
    store = clocked_store
    clock.freeze()
    store.queue_update("api", rate=Rate(3, 2000))
    store.enqueue([JobSpec("true", id=f"a{n}", queue="api", max_retries=0) for n in range(8)]
                  + [JobSpec("true", id="other", max_retries=0)])
    a = register(store, "wa", "host-a")
    b = register(store, "wb", "host-b")
    taken = [run_one(store, a), run_one(store, b), run_one(store, a)]
    assert [j.id for j in taken if j] == ["a0", "a1", "a2"]
    other = run_one(store, b)  # the rated queue is passed over, the rest is served
    assert other is not None and other.id == "other"
    plan = store.claim_or_plan(b)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(2.0, abs=0.01)
    clock.move(1.5)
    assert run_one(store, a) is None
    plan = store.claim_or_plan(a)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(0.5, abs=0.01)
    clock.move(0.5)  # the three starts leave the window together
    assert [j.id for j in (run_one(store, b), run_one(store, a), run_one(store, b)) if j] == [
        "a3", "a4", "a5"]
    assert run_one(store, a) is None
    store.queue_update("api", rate=None)
    assert [j.id for j in (run_one(store, a), run_one(store, b)) if j] == ["a6", "a7"]


def test_a_sliding_window(clocked_store: Storage, clock: MovingClock) -> None:
    """Starts at 0 s and 1 s with 2/2s: one more may start at 2 s (the first left), the
    next at 3 s."""
    store = clocked_store
    clock.freeze()
    store.queue_update("q", rate=Rate(2, 2000))
    store.enqueue([JobSpec("true", id=f"j{n}", queue="q", max_retries=0) for n in range(5)])
    w = register(store, "w", "host-a")
    assert run_one(store, w) is not None
    clock.move(1)
    assert run_one(store, w) is not None
    assert run_one(store, w) is None
    clock.move(1)
    assert run_one(store, w) is not None
    assert run_one(store, w) is None
    plan = store.claim_or_plan(w)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(1.0, abs=0.01)
    clock.move(1)
    assert run_one(store, w) is not None


def test_claims_racing_on_connections_of_their_own_start_no_more_than_the_rate(
    db_url: str,
) -> None:
    setup = open_store(db_url)
    setup.queue_update("q", rate=Rate(5, 3_600_000))
    setup.enqueue([JobSpec("true", id=f"j{n}", queue="q", max_retries=0) for n in range(40)])
    stores = [open_store(db_url) for _ in range(8)]
    workers = [register(s, f"w{n}", f"host-{n % 2}") for n, s in enumerate(stores)]
    gate = threading.Barrier(len(stores))
    started: list[str] = []
    lock = threading.Lock()

    def claimer(store: Storage, worker: str) -> None:
        gate.wait()
        while (job := run_one(store, worker)) is not None:
            with lock:
                started.append(job.id)

    threads = [threading.Thread(target=claimer, args=pair)
               for pair in zip(stores, workers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(started) == 5
    for s in [*stores, setup]:
        s.close()


@pytest.fixture
def web(db_url: str) -> Iterator[TestClient]:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def test_set_shown_and_removed_through_the_cli(
    clocked_cli: InProcessCli, worker: Worker, web: TestClient,
) -> None:
    cli = clocked_cli
    assert cli.ok("queue", "rate", "api", "3/2s").strip() == "queue api: rate 3/2s"
    assert cli.json("queue", "rate", "api", "100/1m")["rate"] == "100/1m"
    cli.ok("queue", "rate", "api", "2/1h")
    jobs = [cli.enqueue("true", "--queue", "api") for _ in range(3)]
    assert worker.work_until_idle() == 2
    assert cli.job(jobs[2])["state"] == "pending"
    assert "rate limit 2/1h" in cli.ok("show", jobs[2])
    [api] = cli.json("queue", "list")
    assert api["rate"] == "2/1h" and api["counts"]["completed"] == 2
    assert "2/1h" in cli.ok("queue", "list")
    assert cli.json("status")["queue_rates"] == {"api": "2/1h"}
    assert "queue rates" in cli.ok("status")
    metrics = web.get("/metrics").text
    assert 'queuectl_queue_rate_starts{queue="api"} 2.0' in metrics
    assert 'queuectl_queue_rate_window_seconds{queue="api"} 3600.0' in metrics
    page = web.get("/queues").text
    assert '<td class="rate">2/1h</td>' in page
    assert cli.ok("queue", "rate", "api", "none").strip() == "queue api: no rate"
    assert worker.work_until_idle() == 1
    assert cli.json("queue", "list")[0]["rate"] is None
    assert cli.json("status")["queue_rates"] == {}


@pytest.mark.parametrize(("given", "code", "says"), [
    ("3", 2, "invalid rate '3': N/DURATION"),
    ("x/1s", 2, "invalid rate"),
    ("3/soon", 2, "invalid rate"),
    ("0/1s", 1, "invalid rate '0/1s': N from 1"),
    ("3/0s", 1, "invalid rate"),
])
def test_a_bad_rate_is_refused_and_nothing_written(
    cli: InProcessCli, given: str, code: int, says: str,
) -> None:
    done = cli.run("queue", "rate", "api", given)
    assert done.returncode == code and says in done.stderr
    assert cli.json("queue", "list") == []


def test_rate_and_window_through_the_json_api(web: TestClient) -> None:
    rated = web.post("/api/queues/api/rate", data={"rate": "3/2s"})
    assert rated.status_code == 200 and rated.json()["rate"] == "3/2s"
    windowed = web.post("/api/queues/api/window",
                        json={"window": "mon-fri 22:00-06:00", "tz": "Europe/Berlin"})
    doc = windowed.json()
    assert (doc["window"], doc["tz"], doc["rate"]) == (
        "mon-fri 22:00-06:00", "Europe/Berlin", "3/2s")
    assert web.post("/api/queues/api/rate", json={"rate": None}).json()["rate"] is None
    refused = web.post("/api/queues/api/window", data={"window": "25:00-06:00"})
    assert refused.status_code == 400 and "25:00" in refused.json()["error"]
    assert web.post("/api/queues/api/window?window=none").json()["window"] is None
