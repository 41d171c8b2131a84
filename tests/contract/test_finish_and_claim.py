"""Storage.finish_and_claim: a job's end and the worker's next claim in one call, with the
same outcome as finish() then claim() (run against every backend)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queuectl.errors import DuplicateJob
from queuectl.models import AttemptResult, IdlePlan, Job, State, utcnow
from queuectl.recurring import CronSpec
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.contract.test_storage import FAIL, OK, policy, register, spec


def test_finishes_and_claims_the_next_job(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a", priority=5), spec(id="b")])
    first = store.claim(worker)
    assert first is not None and first.id == "a"
    done, nxt = store.finish_and_claim(first, worker, OK, after_attempt(first, OK, policy))
    assert done is not None and done.state == State.COMPLETED and done.attempts == 1
    assert isinstance(nxt, Job) and nxt.id == "b" and nxt.state == State.PROCESSING
    assert nxt.last_attempt == 1
    assert [a.number for a in store.attempts("b")] == [1]
    [info] = store.list_workers()  # the worker's state follows the job it holds
    assert (info.state, info.current_job) == ("busy", "b")
    assert store.read_output("a") is not None and store.read_output("a").data == b"hello\n"  # type: ignore[union-attr]
    done, nxt = store.finish_and_claim(nxt, worker, FAIL, after_attempt(nxt, FAIL, policy))
    assert done is not None and done.state == State.FAILED
    # Nothing to claim: the plan, read after the finish, counts its own retry (due in 2 s by
    # policy). On PostgreSQL it is read in the finish's statement, whose snapshot predates it.
    assert isinstance(nxt, IdlePlan) and nxt.tick is None
    assert nxt.due is not None and 1.0 < nxt.due <= 2.0
    [info] = store.list_workers()
    assert (info.state, info.current_job) == ("idle", None)
    assert store.get_job("b").state == State.FAILED  # type: ignore[union-attr]


def test_a_lost_lease_still_claims(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a"), spec(id="b")])
    first = store.claim(worker)
    assert first is not None
    store.cancel(["a"])
    done, nxt = store.finish_and_claim(first, worker, OK, after_attempt(first, OK, policy))
    assert done is None
    assert store.get_job("a").state == State.CANCELLED  # type: ignore[union-attr]
    assert isinstance(nxt, Job) and nxt.id == "b"


def test_next_job_comes_from_the_served_queues(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a", queue="q1"), spec(id="other", queue="q2", priority=9),
                   spec(id="b", queue="q1")])
    first = store.claim(worker, ["q1"])
    assert first is not None and first.id == "a"
    _, nxt = store.finish_and_claim(first, worker, OK, after_attempt(first, OK, policy), ["q1"])
    assert isinstance(nxt, Job) and nxt.id == "b"
    _, nxt = store.finish_and_claim(nxt, worker, OK, after_attempt(nxt, OK, policy), ["q1"])
    assert nxt == IdlePlan(None, None)  # "other" is due, but not in a queue served
    assert store.get_job("other").state == State.PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize("result", [OK, FAIL], ids=["succeeded", "failed"])
def test_the_finished_job_returned_is_the_stored_job(store: Storage, result: AttemptResult) -> None:
    store.enqueue([spec(id="a", priority=3, queue="q", env={"A": "1"}), spec(id="b")])
    worker = register(store)
    job = store.claim(worker)
    assert job is not None
    done, nxt = store.finish_and_claim(job, worker, result, after_attempt(job, result, policy))
    assert done is not None and isinstance(nxt, Job)
    assert done == store.get_job("a")
    last = store.finish(nxt, worker, result, after_attempt(nxt, result, policy))
    assert last == store.get_job("b")


def test_enqueue_ids_inserts_like_enqueue(store: Storage) -> None:
    ids = store.enqueue_ids([spec(id="mine"), spec(), spec()])
    assert ids[0] == "mine" and len(set(ids)) == 3
    assert sorted(j.id for j in store.list_jobs()) == sorted(ids)
    assert all(j.state == State.PENDING for j in store.list_jobs())
    with pytest.raises(DuplicateJob):
        store.enqueue_ids([spec(id="new"), spec(id="mine")])
    assert store.get_job("new") is None


def test_a_claim_that_takes_nothing_says_what_to_sleep_by(store: Storage) -> None:
    """A worker woken for a job another took sleeps again on its one claim: the plan comes
    with it (due job, next tick), in its transaction."""
    worker = register(store)
    assert store.claim_or_plan(worker) == IdlePlan(None, None)
    store.enqueue([spec(id="later", run_at=utcnow() + timedelta(seconds=30))])
    plan = store.claim_or_plan(worker)
    # (30.001 at most: run_at is rounded to the millisecond, the store's now truncated, and
    # a claim can come within the same millisecond as the enqueue.)
    assert isinstance(plan, IdlePlan) and plan.due is not None and 25 < plan.due <= 30.001
    assert store.claim_or_plan(worker, ["elsewhere"]) == IdlePlan(None, None)
    store.cron_add(CronSpec("hourly", "0 * * * *", "UTC", "true", cwd="/"))
    plan = store.claim_or_plan(worker)
    assert isinstance(plan, IdlePlan) and plan.tick is not None and 0 < plan.tick <= 3600
    store.enqueue([spec(id="now")])
    job = store.claim_or_plan(worker)
    assert isinstance(job, Job) and job.id == "now" and job.worker == worker
    plan, read = store.claim_or_plan(worker), store.idle_plan()
    assert isinstance(plan, IdlePlan) and plan.due is not None and read.due is not None
    assert abs(plan.due - read.due) < 1.0


def test_a_plan_never_waits_for_a_job_that_a_queue_limit_holds_back(store: Storage) -> None:
    """Waiting for it would make every idle worker poll while the limit holds: a freed
    place wakes a worker instead (test_queues)."""
    worker = register(store)
    store.queue_update("q", limit=0)
    store.enqueue([spec(id="held", queue="q")])
    assert store.claim_or_plan(worker) == IdlePlan(None, None)
    store.enqueue([spec(id="later", run_at=utcnow() + timedelta(seconds=30))])
    plan = store.claim_or_plan(worker)
    # (30.001 at most: run_at is rounded to the millisecond, the store's now truncated, and
    # a claim can come within the same millisecond as the enqueue.)
    assert isinstance(plan, IdlePlan) and plan.due is not None and 25 < plan.due <= 30.001


def test_a_claimed_job_reads_as_the_store_holds_it(store: Storage) -> None:
    # SQLite's claim returns only the columns a Job has, read by position: every field
    # must come out as a read of the whole row gives it.
    worker = register(store)
    store.enqueue([spec("echo hi", id="a", priority=5, queue="q", env={"A": "1"}, timeout=9.5,
                        cwd="/tmp", unique_key="k"),
                   spec(id="b", queue="q", max_retries=4)])
    first = store.claim(worker, ["q"])
    assert first is not None and first.id == "a"
    assert first == store.get_job("a")
    _, nxt = store.finish_and_claim(first, worker, FAIL, after_attempt(first, FAIL, policy),
                                    ["q"])
    assert isinstance(nxt, Job) and nxt.id == "b"
    assert nxt == store.get_job("b")
    assert store.claim(worker) is None  # "a" waits for its retry
    store.enqueue([spec(id="c")])
    third = store.claim(worker)  # the claim of any queue
    assert third is not None and third == store.get_job("c")
