"""Storage.finish_and_claim: a job's end and the worker's next claim in one call, with the
same outcome as finish() then claim() (run against every backend)."""

from __future__ import annotations

import pytest

from queuectl.errors import DuplicateJob
from queuectl.models import AttemptResult, State
from queuectl.storage.base import Storage
from tests.contract.test_storage import FAIL, OK, policy, register, spec


def test_finishes_and_claims_the_next_job(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a", priority=5), spec(id="b")])
    first = store.claim(worker)
    assert first is not None and first.id == "a"
    done, nxt = store.finish_and_claim(first, worker, OK, policy)
    assert done is not None and done.state == State.COMPLETED and done.attempts == 1
    assert nxt is not None and nxt.id == "b" and nxt.state == State.PROCESSING
    assert nxt.last_attempt == 1
    assert [a.number for a in store.attempts("b")] == [1]
    [info] = store.list_workers()  # the worker's state follows the job it holds
    assert (info.state, info.current_job) == ("busy", "b")
    assert store.read_output("a") is not None and store.read_output("a").data == b"hello\n"  # type: ignore[union-attr]
    done, nxt = store.finish_and_claim(nxt, worker, FAIL, policy)
    assert done is not None and done.state == State.FAILED and nxt is None
    [info] = store.list_workers()
    assert (info.state, info.current_job) == ("idle", None)
    assert store.get_job("b").state == State.FAILED  # type: ignore[union-attr]


def test_a_lost_lease_still_claims(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a"), spec(id="b")])
    first = store.claim(worker)
    assert first is not None
    store.cancel(["a"])
    done, nxt = store.finish_and_claim(first, worker, OK, policy)
    assert done is None
    assert store.get_job("a").state == State.CANCELLED  # type: ignore[union-attr]
    assert nxt is not None and nxt.id == "b"


def test_next_job_comes_from_the_served_queues(store: Storage) -> None:
    worker = register(store)
    store.enqueue([spec(id="a", queue="q1"), spec(id="other", queue="q2", priority=9),
                   spec(id="b", queue="q1")])
    first = store.claim(worker, ["q1"])
    assert first is not None and first.id == "a"
    _, nxt = store.finish_and_claim(first, worker, OK, policy, ["q1"])
    assert nxt is not None and nxt.id == "b"
    _, nxt = store.finish_and_claim(nxt, worker, OK, policy, ["q1"])
    assert nxt is None and store.get_job("other").state == State.PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize("result", [OK, FAIL], ids=["succeeded", "failed"])
def test_the_finished_job_returned_is_the_stored_job(store: Storage, result: AttemptResult) -> None:
    store.enqueue([spec(id="a", priority=3, queue="q", env={"A": "1"}), spec(id="b")])
    worker = register(store)
    job = store.claim(worker)
    assert job is not None
    done, nxt = store.finish_and_claim(job, worker, result, policy)
    assert done is not None and nxt is not None
    assert done == store.get_job("a")
    last = store.finish(nxt, worker, result, policy)
    assert last == store.get_job("b")


def test_enqueue_ids_inserts_like_enqueue(store: Storage) -> None:
    ids = store.enqueue_ids([spec(id="mine"), spec(), spec()])
    assert ids[0] == "mine" and len(set(ids)) == 3
    assert sorted(j.id for j in store.list_jobs()) == sorted(ids)
    assert all(j.state == State.PENDING for j in store.list_jobs())
    with pytest.raises(DuplicateJob):
        store.enqueue_ids([spec(id="new"), spec(id="mine")])
    assert store.get_job("new") is None
