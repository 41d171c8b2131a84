"""Jobs that wait for other jobs, against every backend: never claimed while a
dependency has not completed, released by the completion itself, kept waiting by a dead
dependency, cancelled with a cancelled one; refused when they could never run."""

from __future__ import annotations

import time

import pytest

from queuectl.errors import DependencyRefused
from queuectl.models import AttemptResult, Job, State
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.contract.test_storage import FAIL, OK, policy, register, spec


def run_one(store: Storage, worker: str, result: AttemptResult = OK) -> str:
    """Claim the next ready job and finish it with ``result``; its id."""
    job = store.claim(worker)
    assert job is not None
    store.finish(job, worker, result, after_attempt(job, result, policy))
    return job.id


def test_waiting_job_is_pending_but_never_claimed_until_its_dependency_completes(
    store: Storage,
) -> None:
    w = register(store)
    store.enqueue([spec(id="build")])
    [test] = store.enqueue([spec(id="test", after=("build",), priority=9)])
    assert (test.state, test.after, test.waiting_for) == (State.PENDING, ("build",), ("build",))
    stats = store.stats().to_dict()
    assert (stats["counts"]["pending"], stats["blocked"], stats["scheduled"]) == (2, 1, 0)  # type: ignore[index]
    assert store.seconds_until_due() == 0  # build is due; test is not counted at all
    assert run_one(store, w) == "build"  # test has the higher priority, but waits
    got = store.get_job("test")
    assert got is not None and got.waiting_for == () and got.after == ("build",)
    assert store.stats().blocked == 0
    assert run_one(store, w) == "test"
    assert store.dependents("build") == ["test"]
    assert store.dependents("test") == []


def test_waits_for_every_dependency(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="a"), spec(id="b"), spec(id="c", after=("a", "b"))])
    assert store.get_job("c").waiting_for == ("a", "b")  # type: ignore[union-attr]
    assert run_one(store, w) == "a"
    assert store.get_job("c").waiting_for == ("b",)  # type: ignore[union-attr]
    assert run_one(store, w) == "b"
    assert run_one(store, w) == "c"


def test_after_a_completed_job_is_ready_at_once(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="done")])
    run_one(store, w)
    [job] = store.enqueue([spec(id="next", after=("done",))])
    assert job.waiting_for == () and job.after == ("done",)
    assert store.stats().blocked == 0
    assert run_one(store, w) == "next"


def test_after_an_unknown_or_cancelled_job_is_refused_and_nothing_written(store: Storage) -> None:
    store.enqueue([spec(id="gone")])
    store.cancel(["gone"])
    with pytest.raises(DependencyRefused, match="'nope': no such job") as unknown:
        store.enqueue([spec(id="ok"), spec(id="x", after=("nope",))])
    assert unknown.value.index == 1
    with pytest.raises(DependencyRefused, match="'gone': it was cancelled"):
        store.enqueue([spec(id="y", after=("gone",))])
    assert [j.id for j in store.list_jobs()] == ["gone"]


def test_a_batch_names_its_own_jobs_in_any_order_but_no_cycle(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="last", after=("first",)), spec(id="first")])
    with pytest.raises(DependencyRefused, match="cycle p -> q -> p") as cycle:
        store.enqueue([spec(id="o"), spec(id="p", after=("q",)), spec(id="q", after=("p",))])
    assert cycle.value.index == 1
    with pytest.raises(DependencyRefused, match="cycle s -> s"):
        store.enqueue([spec(id="s", after=("s",))])
    assert sorted(j.id for j in store.list_jobs()) == ["first", "last"]
    assert [run_one(store, w), run_one(store, w)] == ["first", "last"]


def test_a_dead_dependency_keeps_its_dependents_waiting_and_dlq_retry_resumes(
    store: Storage,
) -> None:
    w = register(store)
    store.enqueue([spec(id="flaky", max_retries=0), spec(id="after", after=("flaky",))])
    run_one(store, w, FAIL)
    assert store.get_job("flaky").state is State.DEAD  # type: ignore[union-attr]
    assert store.claim(w) is None
    assert store.get_job("after").waiting_for == ("flaky",)  # type: ignore[union-attr]
    # purge never deletes a job that a waiting job needs
    time.sleep(0.02)
    assert store.purge([State.DEAD], 0.001) == 0
    store.retry_dead(["flaky"])
    assert run_one(store, w) == "flaky"
    assert run_one(store, w) == "after"


def test_a_cancelled_dependency_cancels_its_dependents_transitively(store: Storage) -> None:
    store.enqueue([spec(id="a"), spec(id="other"), spec(id="b", after=("a",)),
                   spec(id="c", after=("b", "other")), spec(id="free")])
    [cancelled] = store.cancel(["a"])
    assert cancelled.id == "a"
    states = {j.id: (j.state, j.last_error) for j in store.list_jobs()}
    assert states["b"] == (State.CANCELLED, "dependency 'a' cancelled")
    assert states["c"] == (State.CANCELLED, "dependency 'b' cancelled")
    assert states["other"][0] is State.PENDING and states["free"][0] is State.PENDING
    assert store.stats().blocked == 0


def test_purging_a_completed_dependency_does_not_strand_its_dependents(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="a"), spec(id="b"), spec(id="c", after=("a", "b"))])
    run_one(store, w)
    time.sleep(0.02)
    assert store.purge([State.COMPLETED], 0.001) == 1
    assert store.get_job("a") is None
    got = store.get_job("c")
    assert got is not None and got.after == ("a", "b") and got.waiting_for == ("b",)
    assert run_one(store, w) == "b"
    assert run_one(store, w) == "c"
    # a job may still be enqueued after the purged one? No: it is unknown now.
    with pytest.raises(DependencyRefused):
        store.enqueue([spec(after=("a",))])


def test_finish_and_claim_takes_the_dependent_it_just_released(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="a"), spec(id="b", after=("a",))])
    job = store.claim(w)
    assert job is not None
    done, nxt = store.finish_and_claim(job, w, OK, after_attempt(job, OK, policy))
    assert done is not None and done.state is State.COMPLETED
    assert isinstance(nxt, Job) and nxt.id == "b"


def test_a_thousand_dependents_of_one_job_are_released_together(store: Storage) -> None:
    w = register(store)
    store.enqueue([spec(id="root")] + [spec(after=("root",)) for _ in range(1000)])
    assert store.stats().blocked == 1000
    run_one(store, w)
    assert store.stats().blocked == 0
    assert len(store.dependents("root")) == 1000
