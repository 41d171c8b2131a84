"""A store whose clock steps (NTP at boot, `date -s`, a resumed VM): the pool's recovery look
sees the step against the host's boot-time clock and moves the times counted from when they
were written, so a live worker is not taken for lost after a step forward and a job due now
does not wait out a step back; wall-clock times (--run-at, cron expressions) stay.

The SQLite store's clock is its process clock, which the tests step through its ``clock``.
PostgreSQL's is the server's, which cannot be stepped here: a step of Δ is made as the server
would see it, by moving every time the store holds by -Δ at once (the rows written after it
are then in the new clock, as they would be)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from queuectl.models import JobSpec, State, WorkerInfo, utcnow
from queuectl.pool.recovery import Recovery, boot_clock_ms, recover_stale
from queuectl.pool.store_calls import StoreCalls
from queuectl.recurring import CronSpec
from queuectl.retry import NextStep, after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.storage.sqlite import SQLiteStorage

HOUR_MS = 3_600_000
LEASE = 5.0  # seconds, as in the report
BOOT = "boot-a"  # a boot id of the tests' own: other tests' pools keep theirs

# Every stored time, for moving them all as a step of the server's clock would.
PG_TIMES = {
    "jobs": ("run_at", "created_at", "updated_at", "started_at", "finished_at"),
    "attempts": ("run_at", "started_at", "finished_at"),
    "workers": ("started_at", "heartbeat_at"),
    "cron_schedules": ("next_run_at", "created_at", "updated_at"),
    "clock_readings": ("store_ms",),
    "queues": ("updated_at",),
}


class SteppedStore:
    """A store and a way to step its clock by ``delta_ms``."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self.offset_ms = 0  # SQLite: how far its clock was stepped
        self.moved = timedelta(0)  # PostgreSQL: how far the stored times were moved
        if db_url.startswith("postgresql"):
            self.store: Storage = open_store(db_url)
        else:
            self.store = SQLiteStorage(db_url, clock=lambda: time.time() + self.offset_ms / 1000)

    def step(self, delta_ms: int) -> None:
        if isinstance(self.store, SQLiteStorage):
            self.offset_ms += delta_ms
            return
        self.moved -= timedelta(milliseconds=delta_ms)
        with psycopg.connect(self.url, autocommit=True) as conn, conn.transaction():
            for table, columns in PG_TIMES.items():
                if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                    continue  # (a store of an earlier version)
                moves = ", ".join(f"{c} = {c} - {delta_ms}" for c in columns)
                conn.execute(f"UPDATE {table} SET {moves}")

    def another(self) -> Storage:
        """The same store opened again, as by another pool (with the same clock)."""
        if isinstance(self.store, SQLiteStorage):
            return SQLiteStorage(self.url, clock=lambda: time.time() + self.offset_ms / 1000)
        return open_store(self.url)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + (self.offset_ms if isinstance(self.store, SQLiteStorage)
                                          else 0)


@pytest.fixture
def stepped(db_url: str) -> Iterator[SteppedStore]:
    s = SteppedStore(db_url)
    yield s
    s.store.close()


def policy(job: object) -> NextStep:
    return after_failure(0, 0, 2, 3600)


def recovery(store: Storage) -> Recovery:
    """A pool's recovery looks, by a worker that has watched the store for a long time."""
    calls = StoreCalls(lambda: True, time.sleep, lambda: 1.0)
    calls.watched_since = time.monotonic() - 1000
    return Recovery(store, calls, policy, lambda: LEASE, None)


@pytest.fixture(autouse=True)
def _own_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("queuectl.hostinfo.boot_id", lambda: BOOT)


def register(store: Storage, worker_id: str) -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, os.getpid(), "idle", None, now, now))
    return worker_id


def job(store: Storage, job_id: str) -> State:
    found = store.get_job(job_id)
    assert found is not None
    return found.state


def test_a_step_forward_leaves_a_live_workers_job_running(stepped: SteppedStore) -> None:
    store = stepped.store
    look = recovery(store)
    look.look()  # the pool's reading before the step
    register(store, "w1")
    store.enqueue([JobSpec(command="sleep 1", id="a", max_retries=0)])
    assert store.claim("w1") is not None
    stepped.step(HOUR_MS)
    look.look()
    assert job(store, "a") is State.PROCESSING
    assert recover_stale(store, LEASE, policy) == []  # nor by a pool that looks next


def test_a_step_back_leaves_a_job_due_now_due(stepped: SteppedStore) -> None:
    store = stepped.store
    look = recovery(store)
    look.look()
    register(store, "w1")
    store.enqueue([JobSpec(command="true", id="due", max_retries=0)])
    stepped.step(-HOUR_MS)
    look.look()
    claimed = store.claim("w1")
    assert claimed is not None and claimed.id == "due"


def test_a_delay_keeps_its_length_and_a_run_at_its_wall_time(stepped: SteppedStore) -> None:
    store = stepped.store
    look = recovery(store)
    look.look()
    at = utcnow() + timedelta(minutes=30)
    store.enqueue([
        JobSpec(command="true", id="delayed", max_retries=0,
                run_at=utcnow() + timedelta(minutes=10)),
        JobSpec(command="true", id="fixed", max_retries=0, run_at=at, run_at_fixed=True),
    ])
    before = {j: store.get_job(j).run_at for j in ("delayed", "fixed")}  # type: ignore[union-attr]
    stepped.step(-HOUR_MS)
    look.look()
    after = {j: store.get_job(j).run_at for j in ("delayed", "fixed")}  # type: ignore[union-attr]
    assert after["fixed"] == before["fixed"] + stepped.moved  # where the step left it
    # The delay: ten minutes from now still, in the store's clock as it reads now.
    left_ms = after["delayed"].timestamp() * 1000 - stepped.now_ms()
    assert 9 * 60_000 < left_ms <= 10 * 60_000


def test_an_every_schedule_keeps_its_interval_and_a_cron_tick_its_time(
        stepped: SteppedStore) -> None:
    store = stepped.store
    look = recovery(store)
    look.look()
    for name, schedule in (("often", "every 2s"), ("daily", "0 9 * * *")):
        store.cron_add(CronSpec(name=name, schedule=schedule, command="true", tz="UTC",
                                cwd="/"))
    before = {c.name: c.next_run_at for c in store.cron_list()}
    stepped.step(-HOUR_MS)
    look.look()
    after = {c.name: c.next_run_at for c in store.cron_list()}
    assert after["often"] is not None
    assert after["often"].timestamp() * 1000 - stepped.now_ms() <= 2_000
    assert before["daily"] is not None
    assert after["daily"] == before["daily"] + stepped.moved


def test_a_step_a_little_over_the_lease_takes_no_live_worker_for_lost(
        stepped: SteppedStore) -> None:
    """A heartbeat written a few seconds before a step of a few seconds is told from one
    written after it only by a reading fresher than both: pools read at every look."""
    store = stepped.store
    boot = [boot_clock_ms()]

    def passes(ms: int) -> None:  # time goes by: the store's clock and the boot clock
        stepped.step(ms)
        boot[0] += ms

    def look() -> int:
        return store.track_clock(BOOT, lambda: boot[0])

    look()
    register(store, "w1")
    passes(3_000)
    look()  # the pools look about once per heartbeat interval
    passes(3_000)
    register(store, "w1")  # its heartbeat, on the clock before the step
    passes(1_000)
    stepped.step(8_000)  # over the lease, under the time since the first reading
    assert look() > 5_000
    assert recover_stale(store, LEASE, policy) == []
    assert [w.state for w in store.list_workers()] == ["idle"]


def test_a_step_is_corrected_once_and_later_writes_stay(stepped: SteppedStore) -> None:
    store = stepped.store
    first, other_pool = recovery(store), recovery(store)
    first.look()
    register(store, "w1")
    stepped.step(HOUR_MS)
    # Written after the step, before any look: already in the new clock.
    store.enqueue([JobSpec(command="true", id="new", max_retries=0)])
    assert store.track_clock(BOOT, boot_clock_ms) > HOUR_MS - 5_000
    assert store.track_clock(BOOT, boot_clock_ms) == 0
    other_pool.look()
    claimed = store.claim("w1")
    assert claimed is not None and claimed.id == "new"


def test_pools_that_see_one_step_at_once_correct_it_once(stepped: SteppedStore) -> None:
    stores = [stepped.store, stepped.another()]
    try:
        assert stores[0].track_clock(BOOT, boot_clock_ms) == 0
        stores[0].enqueue([JobSpec(command="true", id="delayed", max_retries=0,
                                   run_at=utcnow() + timedelta(minutes=10))])
        stepped.step(-HOUR_MS)
        start = threading.Barrier(2)

        def look(store: Storage) -> int:
            start.wait()
            return store.track_clock(BOOT, boot_clock_ms)

        with ThreadPoolExecutor(2) as pool:
            steps = list(pool.map(look, stores))
        assert sorted(steps, key=abs)[0] == 0 and sum(steps) < -HOUR_MS + 5_000
        delayed = stores[0].get_job("delayed")
        assert delayed is not None
        left_ms = delayed.run_at.timestamp() * 1000 - stepped.now_ms()
        assert 9 * 60_000 < left_ms <= 10 * 60_000
    finally:
        stores[1].close()


def test_a_reading_of_another_boot_moves_with_the_step(stepped: SteppedStore) -> None:
    store = stepped.store
    base = boot_clock_ms()
    assert store.track_clock("boot-b", lambda: base + 10_000_000) == 0
    assert store.track_clock(BOOT, boot_clock_ms) == 0
    stepped.step(-HOUR_MS)
    assert store.track_clock(BOOT, boot_clock_ms) < -HOUR_MS + 5_000
    # The other host's next look sees its own boot-time clock and the store's agree.
    elapsed = boot_clock_ms() - base
    assert store.track_clock("boot-b", lambda: base + 10_000_000 + elapsed) == 0


def put_reading(url: str, boot_id: str, store_ms: int, boot_ms: int) -> None:
    """A boot's last reading, as its pools would have left it."""
    sql = ("INSERT INTO clock_readings (boot_id, store_ms, boot_ms) VALUES (%s, %s, %s)"
           " ON CONFLICT (boot_id) DO UPDATE SET store_ms = excluded.store_ms,"
           " boot_ms = excluded.boot_ms")
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql, (boot_id, store_ms, boot_ms))
        return
    with sqlite3.connect(url) as db:
        db.execute(sql.replace("%s", "?"), (boot_id, store_ms, boot_ms))
    db.close()


def test_a_host_paused_meanwhile_is_no_step_of_the_store(stepped: SteppedStore) -> None:
    # Another host's pools read the store's clock all along, the last time just now.
    store = stepped.store
    assert store.track_clock("boot-b", boot_clock_ms) == 0
    # This host's VM was paused for an hour: its boot-time clock stood still meanwhile.
    put_reading(stepped.url, BOOT, stepped.now_ms() - HOUR_MS, boot_clock_ms() - 1_000)
    assert store.track_clock(BOOT, boot_clock_ms) == 0
    assert store.track_clock(BOOT, boot_clock_ms) == 0


def test_drift_and_an_unknown_boot_are_no_step(stepped: SteppedStore) -> None:
    store = stepped.store
    assert store.track_clock(BOOT, boot_clock_ms) == 0
    stepped.step(500)  # within what NTP may slew, and scheduling
    assert store.track_clock(BOOT, boot_clock_ms) == 0
    stepped.step(-HOUR_MS)
    assert store.track_clock("", boot_clock_ms) == 0
