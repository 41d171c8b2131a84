"""`enqueue --mutex NAME`: at most one job holding NAME runs at once, whatever the number of
workers and hosts, under any race; the others wait `pending` in the usual order. A job
cancelled while it runs holds its mutex until its process has ended, and a lost worker's
job frees it when it is recovered."""

from __future__ import annotations

import os
import threading

import pytest

from queuectl.models import AttemptResult, Job, JobSpec, Outcome, State, WorkerInfo, utcnow
from queuectl.pool.recovery import recover_stale
from queuectl.pool.worker import Worker
from queuectl.retry import NextStep, after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")

OK = AttemptResult(Outcome.SUCCEEDED, 0, None, b"")
LEASE = 0.2  # seconds: the clock moves past it


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def register(store: Storage, worker_id: str, host: str) -> str:
    """A worker of another host (its pid is not judged here: only its silence)."""
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, host, os.getpid(), "idle", None, now, now))
    return worker_id


def jobs(*specs: tuple[str, str | None], priority: int = 0) -> list[JobSpec]:
    return [JobSpec("true", id=job_id, mutex=mutex, max_retries=2, priority=priority)
            for job_id, mutex in specs]


def finish(store: Storage, job: Job, worker: str) -> None:
    store.finish(job, worker, OK, after_attempt(job, OK, policy))


def test_one_holder_runs_at_a_time_across_hosts(clocked_store: Storage) -> None:
    store = clocked_store
    store.enqueue(jobs(("d1", "deploy"), ("d2", "deploy"), ("other", None), ("b1", "backup")))
    a = register(store, "wa", "host-a")
    b = register(store, "wb", "host-b")
    first = store.claim(a)
    assert first is not None and first.id == "d1"
    # d2 comes next in order, but deploy is held: host b takes the next job free to run.
    taken = [store.claim(b), store.claim(b)]
    assert [j.id for j in taken if j] == ["other", "b1"]
    assert store.claim(b) is None
    plan = store.claim_or_plan(b)
    assert not isinstance(plan, Job) and plan.due is None  # d2 is not waited for
    assert store.mutex_holder("deploy") == "d1" and store.mutex_holder("free") is None
    finish(store, first, a)
    assert store.mutex_holder("deploy") is None
    second = store.claim(b)
    assert second is not None and second.id == "d2"
    assert store.get_job("d2").mutex == "deploy"  # type: ignore[union-attr]


def test_claims_racing_on_connections_of_their_own_never_run_two_holders(db_url: str) -> None:
    """Eight claimers, each on a store of its own, race for 5 mutexes of 8 jobs each (and 8
    jobs without one): each mutex ends with exactly one running job, whoever won."""
    setup = open_store(db_url)
    names = [f"m{n}" for n in range(5)]
    setup.enqueue(jobs(*[(f"{m}-{i}", m) for m in names for i in range(8)],
                       *[(f"free-{i}", None) for i in range(8)]))
    stores = [open_store(db_url) for _ in range(8)]
    workers = [register(s, f"w{n}", f"host-{n % 2}") for n, s in enumerate(stores)]
    gate = threading.Barrier(len(stores))
    taken: list[Job] = []
    lock = threading.Lock()

    def claimer(store: Storage, worker: str) -> None:
        gate.wait()
        while (job := store.claim(worker)) is not None:
            with lock:
                taken.append(job)

    threads = [threading.Thread(target=claimer, args=pair) for pair in zip(stores, workers,
                                                                          strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    running = setup.list_jobs(state=State.PROCESSING, limit=None)
    held = sorted(j.mutex for j in running if j.mutex)
    assert held == names  # one each, never two
    assert len(taken) == len(running) == 5 + 8
    for s in [*stores, setup]:
        s.close()


def test_a_job_cancelled_while_it_runs_holds_its_mutex_until_its_end(
    clocked_store: Storage,
) -> None:
    store = clocked_store
    store.enqueue(jobs(("c1", "m"), ("c2", "m")))
    w = register(store, "w1", "host-a")
    first = store.claim(w)
    assert first is not None
    store.cancel(["c1"])  # its process is being killed: still running
    assert store.claim(w) is None and store.mutex_holder("m") == "c1"
    step = after_attempt(first, AttemptResult(Outcome.CANCELLED, None, "cancelled", b""),
                         policy)
    done, nxt = store.finish_and_claim(first, w, OK, step)
    assert done is None  # cancelled meanwhile; the end of its attempt frees the mutex
    assert isinstance(nxt, Job) and nxt.id == "c2"


def test_a_lost_workers_job_frees_its_mutex_when_recovered(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    store = clocked_store
    store.enqueue(jobs(("l1", "m"), ("l2", "m")))
    lost = register(store, "lost", "host-gone")
    held = store.claim(lost)
    assert held is not None and held.id == "l1"
    other = register(store, "alive", "host-b")
    assert store.claim(other) is None
    clock.move(LEASE * 1.5)
    store.heartbeat(other, None)
    recovered = recover_stale(store, LEASE, policy)
    assert [r.job_id for r in recovered] == ["l1"]
    nxt = store.claim(other)
    assert nxt is not None and nxt.id == "l2"  # l1 waits for its backoff, and then for m


def test_a_job_without_a_mutex_is_never_held_back(clocked_store: Storage) -> None:
    store = clocked_store
    store.enqueue(jobs(("a", None), ("b", None)))
    w = register(store, "w1", "host-a")
    assert [store.claim(w), store.claim(w)] != [None, None]
    assert store.claim(w) is None


def test_enqueue_show_and_run_through_the_cli(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    first = cli.enqueue("echo one", "--mutex", "deploy")
    assert cli.job(first)["mutex"] == "deploy"
    second = cli.json("enqueue", "-c", "echo two", "--mutex", "deploy")["id"]
    plain = cli.enqueue("true")
    assert cli.job(plain)["mutex"] is None
    from_file = cli.json("enqueue", '{"command": "true", "mutex": "deploy"}')
    assert from_file["mutex"] == "deploy"
    # One pool takes deploy's first job; show tells why the next one waits.
    store = worker.store
    other = register(store, "w-other", "host-b")
    held = store.claim(other)
    assert held is not None and held.id == first
    shown = cli.ok("show", second)
    assert "waiting for mutex deploy" in shown
    assert "waiting for mutex" not in cli.ok("show", plain)
    assert worker.work_until_idle() == 1  # only the job without a mutex
    assert cli.job(second)["state"] == "pending"
    finish(store, held, other)
    assert worker.work_until_idle() == 2
    assert cli.job(second)["state"] == "completed"
    again = cli.ok("rerun", second).strip()
    assert cli.job(again)["mutex"] == "deploy"


def test_a_mutex_name_is_refused_like_an_id(cli: InProcessCli) -> None:
    for bad in ("", "a\nb", "x" * 201):
        result = cli.run("enqueue", "-c", "true", "--mutex", bad)
        assert result.returncode == 1 and "invalid mutex" in result.stderr
    result = cli.run("enqueue", '{"command": "true", "mutex": 3}')
    assert result.returncode == 2 and "mutex must be a string" in result.stderr
    assert cli.json("list") == []


def test_the_end_of_a_holders_attempt_wakes_an_idle_worker(store: Storage) -> None:
    """A job waiting for a mutex starts as soon as it is freed, even when the worker that
    freed it claims nothing (it is stopping): the end of the holder's attempt wakes an idle
    worker, a cancelled holder's too (its attempt closes when its process has ended)."""
    import select

    store.enqueue(jobs(("h1", "m"), ("h2", "m"), ("h3", "m")))
    holder = register(store, "w1", "host-a")
    idle = register(store, "w2", "host-b")
    listener = store.listener(idle)
    try:
        first = store.claim(holder)
        assert first is not None and store.claim(idle) is None
        listener.drain()
        finish(store, first, holder)  # no claim after it, as a stopping worker
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
        second = store.claim(holder)
        assert second is not None and second.id == "h2"
        store.cancel(["h2"])
        listener.drain()
        step = after_attempt(second, OK, policy)
        assert store.finish_and_claim(second, holder, OK, step, ["elsewhere"])[0] is None
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
    finally:
        listener.close()
