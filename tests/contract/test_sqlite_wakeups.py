"""Wake-ups through a pool: the store says who may want work (SQLite: a datagram to each
idle worker's address; PostgreSQL: one NOTIFY), and the pool that hears its workers' share
wakes ONE idle worker of its own (pool/relay.py, the one routine for both stores). The
rest is SQLite's: how its datagrams are addressed."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.models import AttemptResult, JobSpec, Outcome, State, WorkerInfo, utcnow
from queuectl.pool.relay import IdleBoard, Relay
from queuectl.storage.base import Listener, Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.storage.sqlite import SQLiteStorage
from queuectl.transitions import Transition

DONE = Transition(State.COMPLETED, 1, None, None)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStorage]:
    store = SQLiteStorage(str(tmp_path / "q.db"))
    yield store
    store.close()


def _register(store: Storage, worker_id: str, queues: list[str]) -> None:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, 1, "idle", None, now, now, queues))


def _woken(listeners: dict[str, Listener]) -> set[str]:
    """Who holds a "work" datagram now (sent before the call that sent it returned)."""
    ready, _, _ = select.select(list(listeners.values()), [], [], 0)
    return {w for w, lst in listeners.items() if lst in ready and "work" in lst.drain()}


class Pool:
    """A pool's relay over the store's WakeSource, with a pipe per worker slot standing in
    for the workers (what the supervisor does, without forking them)."""

    def __init__(self, store: Storage, url: str, worker_ids: list[str]) -> None:
        self.ids = worker_ids
        self.board = IdleBoard(len(worker_ids))
        self.relay = Relay(type(store).pool_wakeups(url), self.board)
        self.pipes: dict[int, tuple[int, int]] = {}
        for slot, worker_id in enumerate(worker_ids):
            self.relay.watch(worker_id)  # before it registers, as the supervisor does
            read, write = os.pipe()
            os.set_blocking(read, False)
            self.pipes[slot] = (read, write)
            _register(store, worker_id, [])
            self.board.setter(slot)(True)  # asleep, idle

    def pump_until_heard(self, timeout: float = 5.0) -> set[str]:
        """Wait for the store's wake-up to reach the pool, relay it; the workers woken."""
        ready, _, _ = select.select(self.relay.fds(), [], [], timeout)
        assert ready, "the pool heard nothing"
        self.relay.pump({s: w for s, (_, w) in self.pipes.items()}, running=lambda s: False)
        woken = set()
        for slot, (read, _) in self.pipes.items():
            try:
                if b"w" in os.read(read, 64):
                    woken.add(self.ids[slot])
            except BlockingIOError:
                pass
        return woken

    def close(self) -> None:
        self.relay.close()
        for read, write in self.pipes.values():
            os.close(read)
            os.close(write)


def test_an_enqueue_wakes_one_idle_worker_of_each_pool(store: Storage, db_url: str) -> None:
    pools = [Pool(store, db_url, ["a1", "a2", "a3"]), Pool(store, db_url, ["b1", "b2"])]
    try:
        for pool in pools:  # a LISTEN is made on first use: before the enqueue
            pool.relay.fds()
        store.enqueue([JobSpec(command="true", max_retries=0)])
        assert len(pools[0].pump_until_heard() & {"a1", "a2", "a3"}) == 1
        assert len(pools[1].pump_until_heard() & {"b1", "b2"}) == 1
    finally:
        for pool in pools:
            pool.close()


def test_a_cancel_for_one_worker_reaches_its_pool(sqlite_store: SQLiteStorage) -> None:
    pool = Pool(sqlite_store, sqlite_store.path, ["a1", "a2"])
    try:
        sqlite_store.enqueue([JobSpec(command="sleep 9", max_retries=0, id="j")])
        pool.pump_until_heard()
        assert sqlite_store.claim("a2") is not None
        sqlite_store.cancel(["j"])
        select.select(pool.relay.fds(), [], [], 5)
        assert "cancel" in pool.relay.listener.drain()
    finally:
        pool.close()


def test_a_forgotten_worker_is_not_heard(sqlite_store: SQLiteStorage) -> None:
    pool = Pool(sqlite_store, sqlite_store.path, ["a1"])
    try:
        pool.relay.forget("a1")
        sqlite_store.enqueue([JobSpec(command="true", max_retries=0)])
        assert pool.relay.fds() == [pool.relay.more_r]
    finally:
        pool.close()


def test_a_finish_wakes_another_idle_worker_never_its_own(sqlite_store: SQLiteStorage) -> None:
    """The finishing worker reads as idle once its job's row is written; a wake-up that its
    finish sends (here: a place freed in a limited queue) must reach another worker, or a
    worker on its way out (a graceful stop) would swallow it and the held job would wait for
    a timed look."""
    store = sqlite_store
    store.queue_update("lq", limit=1)
    store.enqueue([JobSpec(command="true", max_retries=0, queue="lq") for _ in range(10)])
    listeners = {}
    for worker_id in ("a1", "a2"):
        _register(store, worker_id, [])
        listeners[worker_id] = store.listener(worker_id)
    try:
        for _ in range(10):
            job = store.claim("a1")
            assert job is not None
            _woken(listeners)
            store.finish(job, "a1", AttemptResult(Outcome.SUCCEEDED, 0), DONE)
            assert _woken(listeners) == {"a2"}
    finally:
        for listener in listeners.values():
            listener.close()
