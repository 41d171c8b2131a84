"""The storage contract, run against every backend (tests/conftest.py parametrizes `store`)."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from queuectl.errors import DuplicateJob, JobNotFound, LostLease, WrongState
from queuectl.models import AttemptResult, Job, JobSpec, Outcome, State, WorkerInfo, utcnow
from queuectl.pool.recovery import recover_stale
from queuectl.retry import NextStep, after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock


def spec(command: str = "true", **kw: object) -> JobSpec:
    kw.setdefault("max_retries", 2)
    return JobSpec(command=command, **kw)  # type: ignore[arg-type]


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def register(store: Storage, worker_id: str = "w1") -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, os.getpid(), "idle", None, now, now))
    return worker_id


OK = AttemptResult(Outcome.SUCCEEDED, 0, None, b"hello\n")
FAIL = AttemptResult(Outcome.FAILED, 3, "exit code 3", b"boom\n")


def test_enqueue_then_read_back(store: Storage) -> None:
    [job] = store.enqueue([spec("echo hi", id="job1", priority=5, queue="q", env={"A": "1"})])
    got = store.get_job("job1")
    assert got is not None and got.to_dict() == job.to_dict()
    assert (got.state, got.attempts, got.priority, got.queue, got.env) == (
        State.PENDING, 0, 5, "q", {"A": "1"})
    assert store.get_job("nope") is None


def test_generated_ids_are_short_and_unique(store: Storage) -> None:
    jobs = store.enqueue([spec() for _ in range(500)])
    ids = {job.id for job in jobs}
    assert len(ids) == 500
    assert all(len(i) <= 12 and i.isalnum() for i in ids)


def test_duplicate_id_refused_and_batch_all_or_nothing(store: Storage) -> None:
    store.enqueue([spec("echo first", id="dup")])
    with pytest.raises(DuplicateJob, match="'dup' already exists"):
        store.enqueue([spec(id="new1"), spec(id="dup"), spec(id="new2")])
    assert [j.id for j in store.list_jobs()] == ["dup"]
    assert store.get_job("dup").command == "echo first"  # type: ignore[union-attr]
    with pytest.raises(DuplicateJob):
        store.enqueue([spec(id="twice"), spec(id="twice")])
    assert store.get_job("twice") is None


def test_list_newest_first_with_filters(store: Storage) -> None:
    store.enqueue([spec(id="a"), spec(id="b", queue="other"), spec(id="c")])
    assert [j.id for j in store.list_jobs()] == ["c", "b", "a"]
    assert [j.id for j in store.list_jobs(queue="other")] == ["b"]
    assert [j.id for j in store.list_jobs(limit=2)] == ["c", "b"]
    assert [j.id for j in store.list_jobs(state=State.COMPLETED)] == []
    assert [j.id for j in store.list_jobs(id_contains="b")] == ["b"]


def test_claim_order_priority_then_oldest(store: Storage) -> None:
    store.enqueue([spec(id="low1", priority=0), spec(id="high", priority=10),
                   spec(id="low2", priority=0), spec(id="neg", priority=-1)])
    w = register(store)
    order = [store.claim(w).id for _ in range(4)]  # type: ignore[union-attr]
    assert order == ["high", "low1", "low2", "neg"]
    assert store.claim(w) is None


def test_scheduled_job_not_claimed_before_its_time(
    clocked_store: Storage, clock: MovingClock
) -> None:
    # On the test's clock, frozen: a CI run once spent the 0.6 s this test gave real time
    # before it read the stats.
    store = clocked_store
    clock.freeze()
    store.enqueue([spec(id="later", run_at=datetime.fromtimestamp(clock.now() + 60, UTC))])
    w = register(store)
    assert store.claim(w) is None
    due = store.seconds_until_due()
    assert due is not None and 59 < due <= 60.01  # (times are kept in whole ms)
    assert store.stats().scheduled == 1
    clock.move(59)
    assert store.claim(w) is None
    clock.move(1.01)
    assert store.claim(w).id == "later"  # type: ignore[union-attr]


def test_claim_by_queue(store: Storage) -> None:
    store.enqueue([spec(id="a", queue="alpha"), spec(id="b", queue="beta")])
    w = register(store)
    assert store.claim(w, ["beta"]).id == "b"  # type: ignore[union-attr]
    assert store.claim(w, ["beta"]) is None
    assert store.seconds_until_due(["beta"]) is None
    assert store.claim(w, ["alpha", "beta"]).id == "a"  # type: ignore[union-attr]


def test_success_records_attempt_and_output(store: Storage) -> None:
    store.enqueue([spec(id="j")])
    w = register(store)
    job = store.claim(w)
    assert job is not None and job.state is State.PROCESSING and job.worker == w
    [info] = store.list_workers()
    assert (info.state, info.current_job) == ("busy", "j")
    done = store.finish(job, w, OK, after_attempt(job, OK, policy))
    [info] = store.list_workers()  # read from the jobs the worker holds: none now
    assert (info.state, info.current_job) == ("idle", None)
    assert store.stats().workers_busy == 0
    assert (done.state, done.attempts, done.exit_code, done.last_error) == (
        State.COMPLETED, 1, 0, None)
    [attempt] = store.attempts("j")
    assert (attempt.number, attempt.worker, attempt.exit_code, attempt.outcome) == (
        1, w, 0, Outcome.SUCCEEDED)
    assert attempt.finished_at is not None and attempt.finished_at >= attempt.started_at
    out = store.read_output("j")
    assert out is not None and (out.data, out.finished, out.attempt) == (b"hello\n", True, 1)
    assert store.list_workers()[0].state == "idle"


def test_failures_back_off_then_go_dead(store: Storage) -> None:
    store.enqueue([spec(id="f", max_retries=1)])
    w = register(store)
    job = store.claim(w)
    assert job is not None
    before = utcnow()
    failed = store.finish(job, w, FAIL, after_attempt(job, FAIL, policy))
    assert (failed.state, failed.attempts, failed.last_error) == (State.FAILED, 1, "exit code 3")
    assert failed.run_at - before >= timedelta(seconds=1.9)  # 2 ** 1 seconds
    assert store.claim(w) is None  # not before its backoff
    assert store.stats().counts["failed"] == 1
    # Make it due, by the contract only: retry_dead refuses (not dead), so wait for time.
    with pytest.raises(WrongState, match="is failed, not dead"):
        store.retry_dead(["f"])


def test_dead_after_max_retries_and_dlq_retry(store: Storage) -> None:
    store.enqueue([spec(id="d", max_retries=0)])
    w = register(store)
    dead = store.finish(_claimed := store.claim(w), w, FAIL, after_attempt(_claimed, FAIL, policy))  # type: ignore[arg-type]
    assert (dead.state, dead.attempts) == (State.DEAD, 1)
    [again] = store.retry_dead(["d"])
    assert (again.state, again.attempts) == (State.PENDING, 0)
    job = store.claim(w)
    assert job is not None and job.last_attempt == 2  # the attempts log keeps numbering
    store.finish(job, w, OK, after_attempt(job, OK, policy))
    assert [a.number for a in store.attempts("d")] == [1, 2]
    assert store.read_output("d", 1).data == b"boom\n"  # type: ignore[union-attr]
    assert store.read_output("d").data == b"hello\n"  # type: ignore[union-attr]


def test_retry_dead_all_or_nothing(store: Storage) -> None:
    store.enqueue([spec(id="d1", max_retries=0), spec(id="p")])
    w = register(store)
    store.finish(_claimed := store.claim(w), w, FAIL, after_attempt(_claimed, FAIL, policy))  # type: ignore[arg-type]
    with pytest.raises(WrongState, match="'p' is pending"):
        store.retry_dead(["d1", "p"])
    assert store.get_job("d1").state is State.DEAD  # type: ignore[union-attr]
    with pytest.raises(JobNotFound):
        store.retry_dead(["ghost"])
    assert [j.id for j in store.retry_dead(None)] == ["d1"]


def test_interrupted_attempt_hands_job_back_without_spending_a_retry(store: Storage) -> None:
    store.enqueue([spec(id="i")])
    w = register(store)
    back_result = AttemptResult(Outcome.INTERRUPTED, error="x")
    back = store.finish(_claimed := store.claim(w), w, back_result,  # type: ignore[arg-type]
                        after_attempt(_claimed, back_result, policy))  # type: ignore[arg-type]
    assert (back.state, back.attempts) == (State.PENDING, 0)
    assert store.claim(w).id == "i"  # type: ignore[union-attr]


def test_cancel_pending_and_running(store: Storage) -> None:
    store.enqueue([spec(id="r"), spec(id="p")])
    w = register(store)
    running = store.claim(w)
    assert running is not None and running.id == "r"
    cancelled = store.cancel(["p", "r"])
    assert {j.state for j in cancelled} == {State.CANCELLED}
    # The attempt that was running counts, as it does when its worker records the cancel.
    assert {j.id: j.attempts for j in cancelled} == {"p": 0, "r": 1}
    assert store.check_in(w, running).job_lost
    with pytest.raises(LostLease):
        # The worker learns it lost the job.
        store.finish(running, w, OK, after_attempt(running, OK, policy))
    assert store.get_job(running.id).state is State.CANCELLED  # type: ignore[union-attr]
    assert store.attempts(running.id)[0].finished_at is not None


def test_cancel_refuses_final_jobs_and_changes_nothing(store: Storage) -> None:
    store.enqueue([spec(id="done"), spec(id="p")])
    w = register(store)
    store.finish(_claimed := store.claim(w), w, OK, after_attempt(_claimed, OK, policy))  # type: ignore[arg-type]
    with pytest.raises(WrongState, match="'done' is completed"):
        store.cancel(["p", "done"])
    assert store.get_job("p").state is State.PENDING  # type: ignore[union-attr]
    with pytest.raises(JobNotFound):
        store.cancel(["ghost"])


def test_no_attempt_runs_twice_under_concurrent_claims(store: Storage, db_url: str) -> None:
    store.enqueue([spec() for _ in range(200)])
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        own = open_store(db_url, durable=False)
        wid = register(own, f"w{n}")
        while (job := own.claim(wid)) is not None:
            own.finish(job, wid, OK, after_attempt(job, OK, policy))
            with lock:
                claimed.append(job.id)
        own.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 200 and len(set(claimed)) == 200
    assert store.stats().counts["completed"] == 200


def test_output_saved_while_running(store: Storage) -> None:
    store.enqueue([spec(id="o")])
    w = register(store)
    job = store.claim(w)
    assert job is not None
    store.save_output("o", job.last_attempt, b"\xff\xfepartial", 10)
    out = store.read_output("o")
    assert out is not None
    assert (out.data, out.dropped, out.finished) == (b"\xff\xfepartial", 10, False)


def test_workers_heartbeat_and_stop_requests(store: Storage) -> None:
    w = register(store)
    assert store.heartbeat(w, None).stop is False
    assert store.request_stop() == [w]
    assert store.heartbeat(w, None).stop is True
    assert store.check_in(w, None).stop is True
    assert store.stats().workers_active == 1
    store.unregister_worker(w)
    assert store.list_workers() == []


def test_recover_stale_hands_back_jobs_of_lost_workers(store: Storage) -> None:
    store.enqueue([spec(id="s", max_retries=1)])
    w = register(store, "lost")
    job = store.claim(w)
    assert job is not None
    assert recover_stale(store, 30, policy) == []  # alive: heartbeat fresh, pid ours
    time.sleep(0.05)
    [rec] = recover_stale(store, 0.01, policy)
    assert (rec.job_id, rec.worker, rec.new_state) == ("s", "lost", State.FAILED)
    got = store.get_job("s")
    assert got is not None and (got.state, got.attempts, got.last_error) == (
        State.FAILED, 1, "worker lost")
    [attempt] = store.attempts("s")
    assert (attempt.outcome, attempt.error) == (Outcome.WORKER_LOST, "worker lost")
    assert store.list_workers() == []
    with pytest.raises(LostLease):
        store.finish(job, w, OK, after_attempt(job, OK, policy))


def test_purge_deletes_only_old_final_jobs(store: Storage) -> None:
    store.enqueue([spec(id="done"), spec(id="waiting")])
    w = register(store)
    store.finish(_claimed := store.claim(w), w, OK, after_attempt(_claimed, OK, policy))  # type: ignore[arg-type]
    assert store.purge([State.COMPLETED], 3600) == 0  # too young
    time.sleep(0.02)
    assert store.purge([State.COMPLETED, State.PENDING], 0.01) == 1  # pending never purged
    assert store.get_job("done") is None and store.attempts("done") == []
    assert store.get_job("waiting") is not None


def test_config_round_trip(store: Storage) -> None:
    assert store.config_items() == {}
    store.config_set("max-retries", "7")
    store.config_set("max-retries", "8")
    assert store.config_items() == {"max-retries": "8"}


def test_a_heartbeat_and_a_check_in_bring_the_stored_config(store: Storage) -> None:
    """A worker keeps its config snapshot fresh from them, with no read of its own."""
    w = register(store)
    assert store.heartbeat(w, None).config == {} == store.check_in(w, None).config
    store.config_set("lease-timeout", "9")
    store.config_set("max-log-bytes", "100")
    for check in (store.heartbeat(w, None), store.check_in(w, None)):
        assert check.config == store.config_items() == {"lease-timeout": "9",
                                                         "max-log-bytes": "100"}
    store.unregister_worker(w)
    assert store.heartbeat(w, None).config == store.config_items()  # taken for lost too


def test_stats_counts_every_state(store: Storage) -> None:
    store.enqueue([spec(id="a"), spec(id="b")])
    w = register(store)
    store.claim(w)
    stats = store.stats().to_dict()
    assert stats["counts"] == {"pending": 1, "processing": 1, "completed": 0, "failed": 0,
                               "dead": 0, "cancelled": 0}
    assert stats["workers"] == {"active": 1, "busy": 1}


def test_metrics_inputs(store: Storage) -> None:
    since = utcnow() - timedelta(seconds=1)
    store.enqueue([spec(id="m", max_retries=0)])
    w = register(store)
    store.finish(_claimed := store.claim(w), w, FAIL, after_attempt(_claimed, FAIL, policy))  # type: ignore[arg-type]
    [row] = store.finished_attempts(since)
    assert (row.job_id, row.worker, row.outcome) == ("m", w, "failed")
    assert store.dead_since(since) == 1


def test_listener_wakes_on_enqueue(store: Storage, db_url: str) -> None:
    import select

    w = register(store)
    listener = store.listener(w)
    try:
        other = open_store(db_url)
        other.enqueue([spec()])
        other.close()
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
        assert listener.drain() == set()
    finally:
        listener.close()


def test_a_running_attempt_is_in_the_log_before_its_row_is_written(store: Storage) -> None:
    """The store writes an attempt's row when it ends; until then `attempts` and
    `read_output` show the running attempt (open, no output yet), never the previous one."""
    store.enqueue([spec(id="r", max_retries=3)])
    w = register(store)
    first = store.claim(w)
    assert first is not None

    def retry_now(job: Job) -> NextStep:
        return NextStep(State.FAILED, job.attempts + 1, 0.0)  # due again at once

    store.finish(first, w, FAIL, after_attempt(first, FAIL, retry_now))
    second = store.claim(w)
    assert second is not None and second.last_attempt == 2
    log = store.attempts("r")
    assert [(a.number, a.outcome, a.finished_at is None) for a in log] == [
        (1, Outcome.FAILED, False), (2, None, True)]
    assert (log[1].worker, log[1].started_at) == (w, second.started_at)
    running = store.read_output("r")
    assert running is not None
    assert (running.attempt, running.data, running.finished) == (2, b"", False)
    earlier = store.read_output("r", 1)
    assert earlier is not None and (earlier.data, earlier.finished) == (b"boom\n", True)
    store.save_output("r", 2, b"half", 0)  # a progress save makes the row early
    assert store.read_output("r").data == b"half"  # type: ignore[union-attr]
    store.finish(second, w, OK, after_attempt(second, OK, policy))
    done = store.attempts("r")
    assert [(a.number, a.outcome) for a in done] == [(1, Outcome.FAILED), (2, Outcome.SUCCEEDED)]
    assert done[1].started_at == second.started_at
    final = store.read_output("r")
    assert final is not None and (final.attempt, final.data, final.finished) == (
        2, b"hello\n", True)


def test_a_place_freed_in_a_limited_queue_wakes_an_idle_worker(store: Storage) -> None:
    """A job held back by its queue's limit starts as soon as a place frees, even when the
    worker that freed it claims nothing of that queue (it is stopping, or serves others):
    the finish wakes an idle worker. A finish in a queue without a limit wakes nobody."""
    import select

    store.queue_update("lq", limit=1)
    store.enqueue([spec(id="l1", queue="lq"), spec(id="l2", queue="lq"), spec(id="plain")])
    now = utcnow()
    store.register_worker(WorkerInfo("w1", HOST_ID, os.getpid(), "idle", None, now, now, ["lq"]))
    first = store.claim("w1", ["lq"])
    assert first is not None and first.id == "l1"
    idle = register(store, "w2")
    listener = store.listener(idle)
    try:
        listener.drain()
        plain = store.claim(idle)
        assert plain is not None and plain.id == "plain"  # l2 is held by the limit
        store.finish(plain, idle, OK, after_attempt(plain, OK, policy))
        assert select.select([listener], [], [], 0.5)[0] == []  # nothing freed
        # No claim after it, as a stopping worker.
        store.finish(first, "w1", OK, after_attempt(first, OK, policy))
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
        nxt = store.claim(idle)
        assert nxt is not None and nxt.id == "l2"
        # A job cancelled while it runs holds its place until its process has ended; the
        # finish that records that end frees it.
        store.finish(nxt, idle, OK, after_attempt(nxt, OK, policy))
        store.enqueue([spec(id="l3", queue="lq"), spec(id="l4", queue="lq")])
        third = store.claim("w1", ["lq"])
        assert third is not None and third.id == "l3"
        store.cancel(["l3"])
        listener.drain()
        step = after_attempt(third, OK, policy)
        assert store.finish_and_claim(third, "w1", OK, step, ["elsewhere"])[0] is None
        ready, _, _ = select.select([listener], [], [], 5)
        assert ready and "work" in listener.drain()
    finally:
        listener.close()
