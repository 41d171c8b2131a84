"""While some queue has settings the claim and the idle plan read only the queues that may
start jobs (a loose scan over the ready queues, so held-back jobs cost the rest nothing:
bench/heldback.py measures that). What they choose is what the claim order says: the best
job by priority, then due time, then age, across every queue that may start one."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from queuectl.models import Job, JobSpec, WorkerInfo, utcnow
from queuectl.storage.base import Storage
from tests.clocks import MovingClock


def register(store: Storage, worker_id: str = "w") -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, "host-a", os.getpid(), "idle", None, now, now))
    return worker_id


def spec(job_id: str, queue: str, priority: int = 0, delay_s: float | None = None) -> JobSpec:
    run_at = None if delay_s is None else utcnow() + timedelta(seconds=delay_s)
    return JobSpec("true", id=job_id, queue=queue, priority=priority, max_retries=0,
                   run_at=run_at)


def test_the_claim_order_holds_across_the_queues_that_may_start(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    store = clocked_store
    clock.freeze()
    store.queue_update("held", limit=0)
    store.enqueue([spec(f"h{n}", "held", 9) for n in range(30)])
    store.enqueue([spec("a1", "a", 1), spec("b1", "b", 5), spec("c1", "c", 3),
                   spec("b2", "b", 5), spec("a0", "a", 7, delay_s=3600)])
    w = register(store)
    assert store.claim(w, ["a", "held"]).id == "a1"  # type: ignore[union-attr]
    taken = [store.claim(w) for _ in range(4)]
    assert [j.id if j else None for j in taken] == ["b1", "b2", "c1", None]
    plan = store.claim_or_plan(w)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(3600, abs=1)
    store.queue_update("held", limit=None)
    nxt = store.claim(w)
    assert nxt is not None and nxt.id == "h0"


def test_a_mutex_held_in_an_open_queue_is_passed_over(clocked_store: Storage) -> None:
    store = clocked_store
    store.queue_update("paused", paused=True)
    store.enqueue([JobSpec("true", id=i, queue="q", mutex=m, max_retries=0, priority=p)
                   for i, m, p in [("m1", "m", 5), ("m2", "m", 5), ("free", None, 0)]])
    w = register(store)
    assert [j.id if j else None for j in (store.claim(w), store.claim(w), store.claim(w))] \
        == ["m1", "free", None]
    plan = store.claim_or_plan(w)
    assert not isinstance(plan, Job) and plan.due is None
