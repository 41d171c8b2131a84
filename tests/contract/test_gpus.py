"""GPUs: `worker start --gpus LIST` (the pool owns these GPUs of its host) and `enqueue
--gpus N` (the job runs only in a pool with N of its GPUs free). No GPU is given to two
running attempts of one host, whatever pools share it and however their claims race; the
end of an attempt (finish, cancel once its process has ended, recovery) frees its GPUs.
Pools without GPUs never take a GPU job."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Sequence

import pytest

from queuectl.errors import LostLease
from queuectl.models import (
    AttemptResult,
    GpuUse,
    IdlePlan,
    Job,
    JobSpec,
    Outcome,
    State,
    WorkerInfo,
    utcnow,
)
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
HOST = "gpu-box"


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def register(store: Storage, worker_id: str, gpus: Sequence[int] = (),
             host: str = HOST) -> str:
    """A worker of a pool owning ``gpus`` on ``host`` (its pid is not judged: its silence)."""
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, host, os.getpid(), "idle", None, now, now,
                                     [], "", [GpuUse(host, g) for g in gpus]))
    return worker_id


def gpu_jobs(*specs: tuple[str, int | None]) -> list[JobSpec]:
    return [JobSpec("true", id=job_id, gpus=gpus, max_retries=2) for job_id, gpus in specs]


def claim(store: Storage, worker: str, gpus: Sequence[int], host: str = HOST) -> Job | None:
    found = store.claim_gpus(worker, host, gpus)
    return found if isinstance(found, Job) else None


def finish(store: Storage, job: Job, worker: str) -> None:
    store.finish(job, worker, OK, after_attempt(job, OK, policy))


def test_a_gpu_job_runs_only_where_enough_of_the_pools_gpus_are_free(
    clocked_store: Storage,
) -> None:
    store = clocked_store
    store.enqueue(gpu_jobs(("two", 2), ("one", 1), ("three", 3), ("plain", None)))
    plain_pool = register(store, "w-cpu")
    pool = register(store, "w-gpu", [0, 1, 2])
    # A pool without GPUs never sees a GPU job: only the plain one.
    taken = store.claim(plain_pool)
    assert taken is not None and taken.id == "plain" and taken.gpus_assigned is None
    assert store.claim(plain_pool) is None
    first = claim(store, pool, [0, 1, 2])
    assert first is not None and first.id == "two" and first.gpus_assigned == (0, 1)
    second = claim(store, pool, [0, 1, 2])
    assert second is not None and second.id == "one" and second.gpus_assigned == (2,)
    # "three" needs three GPUs; none is free: nothing (and it is not waited for as due).
    plan = store.claim_gpus(pool, HOST, [0, 1, 2])
    assert isinstance(plan, IdlePlan) and plan.due is None
    shown = store.get_job("two")
    assert shown is not None and shown.gpus == 2 and shown.gpus_assigned == (0, 1)
    finish(store, first, pool)
    assert claim(store, pool, [0, 1, 2]) is None  # two free, three wanted
    finish(store, second, pool)
    third = claim(store, pool, [0, 1, 2])
    assert third is not None and third.id == "three" and third.gpus_assigned == (0, 1, 2)
    finish(store, third, pool)
    done = store.get_job("two")
    assert done is not None and done.state is State.COMPLETED
    assert done.gpus_assigned == (0, 1)  # kept after it ran


def test_pools_sharing_gpus_of_a_host_never_give_one_twice(clocked_store: Storage) -> None:
    store = clocked_store
    store.enqueue(gpu_jobs(("a", 2), ("b", 2), ("c", 1)))
    left = register(store, "w-left", [0, 1, 2])
    right = register(store, "w-right", [2, 3])
    elsewhere = register(store, "w-other-host", [0, 1], host="other-box")
    a = claim(store, left, [0, 1, 2])
    assert a is not None and a.gpus_assigned == (0, 1)
    b = claim(store, right, [2, 3])
    assert b is not None and b.gpus_assigned == (2, 3)
    assert claim(store, left, [0, 1, 2]) is None  # its GPU 2 is the right pool's job's now
    c = claim(store, elsewhere, [0, 1], host="other-box")  # another host's GPU 0 is free
    assert c is not None and c.gpus_assigned == (0,)


def test_a_cancelled_job_frees_its_gpus_when_its_attempt_ends(clocked_store: Storage) -> None:
    store = clocked_store
    store.enqueue(gpu_jobs(("c1", 1), ("c2", 1)))
    w = register(store, "w1", [0])
    first = claim(store, w, [0])
    assert first is not None
    store.cancel(["c1"])  # its process is being killed: the GPU is still in use
    assert claim(store, w, [0]) is None
    cancelled = AttemptResult(Outcome.CANCELLED, None, "cancelled", b"")
    with pytest.raises(LostLease):  # cancelled meanwhile; the end of its attempt frees GPU 0
        store.finish(first, w, cancelled, after_attempt(first, cancelled, policy))
    nxt = claim(store, w, [0])
    assert nxt is not None and nxt.id == "c2" and nxt.gpus_assigned == (0,)


def test_a_lost_workers_gpus_are_free_once_its_job_is_recovered(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    store = clocked_store
    store.enqueue(gpu_jobs(("l1", 2), ("l2", 2)))
    lost = register(store, "lost", [0, 1])
    held = claim(store, lost, [0, 1])
    assert held is not None and held.id == "l1"
    other = register(store, "alive", [0, 1])
    assert claim(store, other, [0, 1]) is None
    clock.move(LEASE * 1.5)
    store.heartbeat(other, None)
    recovered = recover_stale(store, LEASE, policy)
    assert [r.job_id for r in recovered] == ["l1"]
    nxt = claim(store, other, [0, 1])
    assert nxt is not None and nxt.id == "l2" and nxt.gpus_assigned == (0, 1)


def test_claims_racing_on_connections_of_their_own_never_share_a_gpu(db_url: str) -> None:
    """Six workers of three pools on one host, whose GPU sets overlap (0-3, 2-5, 0 and 5),
    each on a store connection of its own, claim and finish 60 jobs of 1-3 GPUs as fast as
    they can: no GPU is ever held by two running jobs, and every job gets as many GPUs as
    it asked for, all of its pool's."""
    setup = open_store(db_url)
    rng = random.Random(7)
    wanted = {f"j{n}": rng.choice((1, 1, 2, 3)) for n in range(60)}
    setup.enqueue(gpu_jobs(*wanted.items()))
    pools = [[0, 1, 2, 3], [2, 3, 4, 5], [0, 5]]
    stores = [open_store(db_url) for _ in range(6)]
    members = [(s, register(s, f"w{n}", pools[n % 3]), pools[n % 3])
               for n, s in enumerate(stores)]
    gate = threading.Barrier(len(stores))
    lock = threading.Lock()
    in_use: dict[int, str] = {}
    clashes: list[str] = []
    given: dict[str, tuple[int, ...]] = {}

    def worker(store: Storage, worker_id: str, gpus: list[int]) -> None:
        gate.wait()
        idle = 0
        while idle < 20:
            job = claim(store, worker_id, gpus)
            if job is None:
                idle += 1
                threading.Event().wait(0.01)
                continue
            idle = 0
            assigned = job.gpus_assigned or ()
            with lock:
                clashes.extend(f"{job.id} got GPU {g} of {in_use[g]}"
                               for g in assigned if g in in_use)
                in_use.update((g, job.id) for g in assigned)
                given[job.id] = assigned
            threading.Event().wait(rng.random() / 200)
            with lock:  # released before the finish commits: a claim after it may take them
                for g in assigned:
                    in_use.pop(g, None)
            finish(store, job, worker_id)

    threads = [threading.Thread(target=worker, args=m) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert clashes == []
    assert sorted(given) == sorted(wanted)
    for job_id, assigned in given.items():
        assert len(assigned) == wanted[job_id]
    done = setup.list_jobs(state=State.COMPLETED, limit=None)
    assert len(done) == len(wanted)
    for s in [*stores, setup]:
        s.close()


def test_a_job_sees_its_gpus_in_cuda_visible_devices(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock,
) -> None:
    cli = clocked_cli
    gpu = cli.enqueue('echo "gpus=[$CUDA_VISIBLE_DEVICES]"', "--gpus", "2")
    plain = cli.enqueue('echo "gpus=[${CUDA_VISIBLE_DEVICES-unset}]"')
    own = cli.enqueue('echo "gpus=[$CUDA_VISIBLE_DEVICES]"', "-e", "CUDA_VISIBLE_DEVICES=7")
    worker = Worker(clocked_store, (), clocks=clock.clocks, gpus=[4, 5, 6])
    assert worker.work_until_idle() == 3
    assert cli.ok("logs", gpu).strip() == "gpus=[4,5]"
    assert cli.ok("logs", plain).strip() == "gpus=[]"  # set, and empty: it sees no GPU
    assert cli.ok("logs", own).strip() == "gpus=[7]"  # its own env wins
    doc = cli.job(gpu)
    assert doc["gpus"] == 2 and doc["gpus_assigned"] == [4, 5]
    assert cli.job(plain)["gpus"] is None and cli.job(plain)["gpus_assigned"] is None


def test_a_pool_without_gpus_leaves_cuda_visible_devices_alone(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    plain = cli.enqueue('echo "gpus=[${CUDA_VISIBLE_DEVICES-unset}]"')
    gpu = cli.enqueue("true", "--gpus", "1")
    assert worker.work_until_idle() == 1
    assert cli.ok("logs", plain).strip() == "gpus=[unset]"
    assert cli.job(gpu)["state"] == "pending"


def test_show_says_why_a_gpu_job_waits_and_worker_list_shows_the_gpus(
    clocked_cli: InProcessCli, clocked_store: Storage,
) -> None:
    cli = clocked_cli
    big = cli.enqueue("true", "--gpus", "4")
    assert "needs 4 GPUs: no running pool has that many" in cli.ok("show", big)
    shown = cli.json("show", big)
    assert shown["state"] == "pending" and "no running pool" in shown["held_back"]
    store = clocked_store
    w = register(store, "w-gpu", [0, 1])
    assert "the most is 2" in cli.json("show", big)["held_back"]
    small = cli.enqueue("true", "--gpus", "2")
    running = claim(store, w, [0, 1])
    assert running is not None and running.id == small
    waiting = cli.enqueue("true", "--gpus", "1")
    assert cli.json("show", waiting)["held_back"] == "waiting for 1 free GPU"
    [listed] = cli.json("worker", "list")
    assert listed["gpus"] == [{"gpu": 0, "job": small}, {"gpu": 1, "job": small}]
    assert "0=" + small in cli.ok("worker", "list")
    status = cli.json("status")
    assert status["gpus"] == [{"host": HOST, "gpu": 0, "job": small},
                              {"host": HOST, "gpu": 1, "job": small}]
    assert "2 busy" in cli.ok("status")
    assert cli.json("status")["counts"]["pending"] == 2
    assert cli.json("status")["blocked"] == 0  # its GPU does not make a job blocked
    later = cli.enqueue("true", "--gpus", "1", "--delay", "1h")  # its time is the reason
    assert cli.json("show", later)["held_back"] is None


def test_gpus_through_enqueue_file_api_edit_and_rerun(cli: InProcessCli, store: Storage) -> None:
    from_json = cli.json("enqueue", '{"command": "true", "gpus": 2}')
    assert from_json["gpus"] == 2 and from_json["gpus_assigned"] is None
    jobs_file = cli.cwd / "jobs.jsonl"
    jobs_file.write_text('{"command": "true", "gpus": 1}\n{"command": "true"}\n')
    ids = cli.ok("enqueue", "--file", str(jobs_file)).split()
    assert [cli.job(i)["gpus"] for i in ids] == [1, None]
    edited = cli.json("edit", ids[1], "--gpus", "3")
    assert edited["gpus"] == 3
    # An edited job counts its GPU like an enqueued one: no pool without GPUs takes it.
    w = register(store, "w-cpu")
    taken = store.claim(w)
    assert taken is None
    from queuectl.api import Queue

    with Queue(cli.db_url) as q:
        job = q.enqueue("true", gpus=1)
        assert job.gpus == 1 and q.get(job.id).gpus == 1
    store.cancel([from_json["id"]])
    again = cli.ok("rerun", from_json["id"]).strip()
    assert cli.job(again)["gpus"] == 2


def test_bad_gpu_counts_are_refused_in_one_line(cli: InProcessCli) -> None:
    for bad in ("0", "-1", "100000"):
        result = cli.run("enqueue", "-c", "true", "--gpus", bad)
        assert result.returncode == 1 and "invalid gpus" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = cli.run("enqueue", "-c", "true", "--gpus", "x")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for bad in ('"2"', "true", "1.5"):
        result = cli.run("enqueue", f'{{"command": "true", "gpus": {bad}}}')
        assert result.returncode == 2 and "gpus must be an integer" in result.stderr
    assert cli.json("list") == []
    for bad, code in (("x", 2), ("1-0", 1), ("0,0", 1), ("", 2), ("0,,1", 2), ("5000", 1)):
        result = cli.run("worker", "start", "--gpus", bad)
        assert result.returncode == code, (bad, result.stderr)
        assert result.stderr.startswith("queuectl: error:")
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_dashboard_shows_each_pools_gpus_and_a_jobs(db_url: str, store: Storage) -> None:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    store.enqueue(gpu_jobs(("train", 1)))
    w = register(store, "w-gpu", [0, 1])
    assert claim(store, w, [0, 1]) is not None
    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        page = client.get("/").text
        assert "<th>GPUs</th>" in page and ">free<" in page and "/jobs/train" in page
        assert client.get("/api/status").json()["gpus"][0] == {"host": HOST, "gpu": 0,
                                                               "job": "train"}
        detail = client.get("/jobs/train").text
        assert 'id="job-gpus"' in detail and "given 0" in detail
        assert client.get("/api/jobs/train").json()["gpus_assigned"] == [0]


def test_the_end_of_an_attempt_given_gpus_wakes_an_idle_worker(store: Storage) -> None:
    """A GPU job waiting for GPUs starts as soon as they are freed, even when the worker
    that freed them claims nothing (it is stopping): the end of the attempt wakes an idle
    worker, a cancelled one's too (its attempt closes when its process has ended)."""
    import select

    store.enqueue(gpu_jobs(("g1", 1), ("g2", 1), ("g3", 1)))
    holder = register(store, "w1", [0])
    idle = register(store, "w2", [0])
    listener = store.listener(idle)
    try:
        first = claim(store, holder, [0])
        assert first is not None and claim(store, idle, [0]) is None
        listener.drain()
        finish(store, first, holder)  # no claim after it, as a stopping worker
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
        second = claim(store, holder, [0])
        assert second is not None and second.id == "g2"
        store.cancel(["g2"])
        listener.drain()
        cancelled = AttemptResult(Outcome.CANCELLED, None, "cancelled", b"")
        with pytest.raises(LostLease):
            store.finish(second, holder, cancelled, after_attempt(second, cancelled, policy))
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
        third = claim(store, idle, [0])
        assert third is not None and third.id == "g3"
    finally:
        listener.close()


def test_a_duplicate_that_replaces_a_waiting_job_brings_its_gpus(store: Storage) -> None:
    first = store.enqueue([JobSpec("true", unique_key="k", max_retries=0)])[0]
    store.enqueue([JobSpec("train", unique_key="k", max_retries=0, gpus=2,
                           on_duplicate="replace")])
    cpu = register(store, "w-cpu")
    assert store.claim(cpu) is None  # a GPU job now: no pool without GPUs takes it
    pool = register(store, "w-gpu", [0, 1])
    taken = claim(store, pool, [0, 1])
    assert taken is not None and taken.id == first.id and taken.gpus_assigned == (0, 1)
    store.enqueue([JobSpec("again", unique_key="k2", max_retries=0, gpus=1)])
    store.enqueue([JobSpec("plain", unique_key="k2", max_retries=0, on_duplicate="replace")])
    plain = store.claim(cpu)
    assert plain is not None and plain.command == "plain"  # no GPU now: anyone takes it


def test_editing_a_failed_jobs_gpus_forgets_the_ones_its_last_attempt_had(
    cli: InProcessCli, store: Storage,
) -> None:
    job_id = cli.json("enqueue", "-c", "false", "--gpus", "2", "--max-retries", "3")["id"]
    pool = register(store, "w-gpu", [0, 1, 2])
    job = claim(store, pool, [0, 1, 2])
    assert job is not None and job.gpus_assigned == (0, 1)
    failed = AttemptResult(Outcome.FAILED, 1, "exit code 1", b"")
    store.finish(job, pool, failed, after_attempt(job, failed, policy))
    assert cli.job(job_id)["state"] == "failed" and cli.job(job_id)["gpus_assigned"] == [0, 1]
    edited = cli.json("edit", job_id, "--gpus", "3")
    assert edited["gpus"] == 3 and edited["gpus_assigned"] is None
