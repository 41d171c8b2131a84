"""SQLite's wake-ups: one datagram per set of queues served, not one per idle worker, and
a worker that claimed after a wake-up passes it on to one more (pool/relay.py does the
same for PostgreSQL pools through their supervisor)."""

from __future__ import annotations

import select
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.models import AttemptResult, JobSpec, Outcome, WorkerInfo, utcnow
from queuectl.storage.base import Listener
from queuectl.storage.liveness import HOST_ID
from queuectl.storage.sqlite import SQLiteStorage
from tests.contract.test_storage import policy


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStorage]:
    store = SQLiteStorage(str(tmp_path / "q.db"))
    yield store
    store.close()


def _register(store: SQLiteStorage, worker_id: str, queues: list[str]) -> Listener:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, 1, "idle", None, now, now, queues))
    return store.listener(worker_id)


def _woken(listeners: dict[str, Listener]) -> set[str]:
    """Who holds a "work" datagram now (sent before the call that sent it returned)."""
    ready, _, _ = select.select(list(listeners.values()), [], [], 0)
    return {w for w, lst in listeners.items() if lst in ready and "work" in lst.drain()}


def test_an_enqueue_wakes_one_idle_worker_per_set_of_queues(sqlite_store: SQLiteStorage) -> None:
    store = sqlite_store
    listeners = {w: _register(store, w, []) for w in ("a1", "a2", "a3")}
    listeners["b1"] = _register(store, "b1", ["b", "c"])
    listeners["b2"] = _register(store, "b2", ["c", "b"])
    try:
        store.enqueue([JobSpec(command="true", max_retries=0)])
        woken = _woken(listeners)
        assert len(woken & {"a1", "a2", "a3"}) == 1
        assert len(woken & {"b1", "b2"}) == 1
        assert _woken(listeners) == set()

        # The woken one claimed: one more of its kind is woken, never itself.
        store.pass_on_wake("a1", [])
        assert len(_woken(listeners) & {"a2", "a3"}) == 1
        store.pass_on_wake("b1", ["c", "b"])
        assert _woken(listeners) == {"b2"}
    finally:
        for listener in listeners.values():
            listener.close()


def test_passing_on_with_nobody_else_idle_sends_nothing(sqlite_store: SQLiteStorage) -> None:
    listeners = {"a1": _register(sqlite_store, "a1", [])}
    try:
        sqlite_store.pass_on_wake("a1", [])
        assert _woken(listeners) == set()
    finally:
        listeners["a1"].close()


def test_a_finish_wakes_another_idle_worker_never_its_own(sqlite_store: SQLiteStorage) -> None:
    """The finishing worker reads as idle once its job's row is written; a wake-up that its
    finish sends (here: a place freed in a limited queue) must reach another worker, or a
    worker on its way out (a graceful stop) would swallow it and the held job would wait for
    a timed look."""
    store = sqlite_store
    store.queue_update("lq", limit=1)
    store.enqueue([JobSpec(command="true", max_retries=0, queue="lq") for _ in range(10)])
    listeners = {w: _register(store, w, []) for w in ("a1", "a2")}
    try:
        for _ in range(10):  # the other worker is picked at random among idle ones
            job = store.claim("a1")
            assert job is not None
            _woken(listeners)
            store.finish(job, "a1", AttemptResult(Outcome.SUCCEEDED, 0), policy)
            assert _woken(listeners) == {"a2"}
    finally:
        for listener in listeners.values():
            listener.close()
