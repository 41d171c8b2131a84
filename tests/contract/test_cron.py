"""Recurring jobs in the store, on both backends: definitions, firing exactly once per tick
(also from many stores at once), catch-up after downtime, overlap, pause and resume.

Downtime is made by moving a schedule's stored next tick into the past, as if no pool had
run since: the store's own clock (PostgreSQL's is the server's) cannot be set back."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from queuectl.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.models import State, to_ms
from queuectl.recurring import CronSpec
from queuectl.schedules import CatchUp, Overlap
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from tests.helpers import Cli

HOUR_MS = 3600_000


def hourly(name: str = "report", **kw: object) -> CronSpec:
    return CronSpec(name=name, schedule="every 1h", tz="UTC", command="echo hi", **kw)  # type: ignore[arg-type]


def set_next_run(db_url: str, name: str, ms: int) -> None:
    """Plant a past tick, as if the pools had been down since."""
    sql = "UPDATE cron_schedules SET next_run_at = {} WHERE name = {}"
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s", "%s").encode(), (ms, name))
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute(sql.format("?", "?"), (ms, name))


def this_hour_ms() -> int:
    return to_ms(datetime.now(UTC)) // HOUR_MS * HOUR_MS


def test_add_list_show_and_refuse_a_duplicate(store: Storage) -> None:
    added = store.cron_add(hourly(priority=3, queue="q", env={"A": "1"}, max_retries=1))
    assert added.name == "report" and not added.paused and added.last_job is None
    assert added.next_run_at is not None
    assert to_ms(added.next_run_at) == this_hour_ms() + HOUR_MS or to_ms(added.next_run_at) == (
        this_hour_ms() + 2 * HOUR_MS)  # (the hour may turn during the test)
    doc = added.to_dict()
    assert {k: doc[k] for k in ("schedule", "tz", "command", "overlap", "catch_up", "paused",
                                "last_job", "last_state", "env")} == {
        "schedule": "every 1h", "tz": "UTC", "command": "echo hi", "overlap": "skip",
        "catch_up": "latest", "paused": False, "last_job": None, "last_state": None,
        "env": {"A": "1"}}
    with pytest.raises(DuplicateSchedule, match="already exists"):
        store.cron_add(hourly(priority=9))
    assert store.cron_get("report").spec.priority == 3  # untouched
    store.cron_add(hourly(priority=9), replace=True)
    assert [c.spec.priority for c in store.cron_list()] == [9]


def test_remove_and_unknown_names(store: Storage) -> None:
    store.cron_add(hourly())
    store.cron_remove("report")
    assert store.cron_list() == []
    for call in (store.cron_remove, store.cron_get, store.cron_run_now,
                 lambda n: store.cron_set_paused(n, True)):
        with pytest.raises(ScheduleNotFound, match="schedule 'report' not found"):
            call("report")


def test_a_due_tick_enqueues_one_job_named_after_it(store: Storage, db_url: str) -> None:
    store.cron_add(hourly())
    assert store.cron_fire() == []  # nothing due yet
    tick = this_hour_ms()
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    tick_iso = datetime.fromtimestamp(tick / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert fired.job_id == f"report@{tick_iso}"
    job = store.get_job(fired.job_id)
    assert job is not None and job.cron == "report" and job.state is State.PENDING
    assert job.command == "echo hi" and job.max_retries == 3  # the config's default
    assert job.to_dict()["cron"] == "report"
    assert [j.id for j in store.list_jobs(cron="report")] == [fired.job_id]
    assert store.list_jobs(cron="other") == []
    assert store.cron_fire() == []  # the next tick is an hour away
    seconds = store.cron_seconds_until_tick()
    assert seconds is not None and 0 < seconds <= 3600
    shown = store.cron_get("report")
    assert (shown.last_job, shown.last_state) == (fired.job_id, State.PENDING)


def test_many_stores_firing_at_once_enqueue_one_job_per_tick(store: Storage,
                                                              db_url: str) -> None:
    store.cron_add(hourly(overlap=Overlap.ALLOW))
    stores = [open_store(db_url) for _ in range(4)]
    try:
        for back in (3, 2):  # two rounds of downtime, each fired by four stores at once
            set_next_run(db_url, "report", this_hour_ms() - back * HOUR_MS)
            results: list[object] = []
            gate = threading.Barrier(len(stores))

            def race(s: Storage, gate: threading.Barrier, results: list[object]) -> None:
                gate.wait()
                results.extend(s.cron_fire())

            threads = [threading.Thread(target=race, args=(s, gate, results)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(results) == 1, results
    finally:
        for s in stores:
            s.close()
    # Both rounds fired the same latest tick: its id exists once, so one job in all.
    assert len(store.list_jobs(cron="report")) == 1


@pytest.mark.parametrize(("catch_up", "jobs"), [(CatchUp.LATEST, 1), (CatchUp.NONE, 0)])
def test_after_downtime_one_job_for_the_latest_tick_or_none(
    store: Storage, db_url: str, catch_up: CatchUp, jobs: int
) -> None:
    store.cron_add(hourly(catch_up=catch_up))
    set_next_run(db_url, "report", this_hour_ms() - 5 * HOUR_MS)
    store.cron_fire()
    found = store.list_jobs(cron="report")
    assert len(found) == jobs  # never a burst
    if found:
        assert found[0].id.endswith(
            datetime.fromtimestamp(this_hour_ms() / 1000, UTC).strftime("%H:00:00.000Z")
        )
    nxt = store.cron_get("report").next_run_at
    assert nxt is not None and nxt > datetime.now(UTC)


def test_overlap_skip_records_the_skipped_tick(store: Storage, db_url: str) -> None:
    store.cron_add(hourly())
    tick = this_hour_ms()
    set_next_run(db_url, "report", tick)
    [first] = store.cron_fire()
    set_next_run(db_url, "report", tick)  # the same tick again: its job is still pending
    [second] = store.cron_fire()
    assert second.job_id is None and second.blocked_by == first.job_id
    assert [to_ms(t) for t in store.cron_skipped("report")] == [tick]
    assert store.cron_get("report").skipped == 1
    assert len(store.list_jobs(cron="report")) == 1


def test_pause_and_resume(store: Storage, db_url: str) -> None:
    store.cron_add(hourly())
    paused = store.cron_set_paused("report", True)
    assert paused.paused and paused.next_run_at is None
    set_next_run(db_url, "report", this_hour_ms() - 2 * HOUR_MS)
    assert store.cron_fire() == []
    assert store.cron_seconds_until_tick() is None
    resumed = store.cron_set_paused("report", False)
    # Resuming plans the next tick after now: the missed ones are not run.
    assert resumed.next_run_at is not None and resumed.next_run_at > datetime.now(UTC)
    assert store.cron_fire() == [] and store.list_jobs(cron="report") == []


def test_run_now_enqueues_outside_the_schedule(store: Storage) -> None:
    store.cron_add(hourly(timeout=5.0))
    job = store.cron_run_now("report")
    assert job.id.startswith("report@run-") and job.cron == "report" and job.timeout == 5.0
    assert store.cron_get("report").last_job == job.id
    next_before = store.cron_get("report").next_run_at
    assert next_before is not None and next_before - datetime.now(UTC) > timedelta(seconds=-1)


@pytest.mark.parametrize("tz", [":/usr/share/zoneinfo/Asia/Tokyo", "/usr/share/zoneinfo/Asia/Tokyo",
                                "Asia/Tokyo"])
def test_cron_add_stores_the_zone_tz_names_as_run_at_reads_it(cli: Cli, tz: str) -> None:
    if tz.startswith((":/", "/")) and not Path(tz.lstrip(":")).is_file():
        pytest.skip("no system zone files")
    cli.env["TZ"] = tz
    cli.ok("cron", "add", "tokyo", "0 9 * * *", "-c", "true")
    [doc] = cli.json("cron", "list")
    assert doc["tz"] == "Asia/Tokyo"
    assert doc["next_run_at"].endswith("T00:00:00.000Z")  # 09:00 in Tokyo
    job = cli.job(cli.enqueue("true", "--run-at", "2030-01-02T09:00"))
    assert job["run_at"] == "2030-01-02T00:00:00.000Z"  # the same zone, both ways


def test_cron_add_refuses_a_tz_it_cannot_name_and_writes_nothing(cli: Cli) -> None:
    cli.env["TZ"] = "JST-9"
    proc = cli.run("cron", "add", "tokyo", "0 9 * * *", "-c", "true")
    assert proc.returncode == 1
    assert proc.stderr == ("queuectl: error: TZ='JST-9' is not an IANA zone name: give --tz "
                           "(e.g. --tz Europe/Berlin)\n")
    assert cli.json("cron", "list") == []
    cli.ok("cron", "add", "tokyo", "0 9 * * *", "-c", "true", "--tz", "Asia/Tokyo")


# --- --catch-up none: missed only when no pool ran -----------------------------------------
# Pools are planted as worker rows (started and last heartbeat relative to now, as a pool's
# workers write them), and a tick in the schedule: the store's own clock is not set back.
# The lease is the default 30 s unless a test sets it.

def plant_worker(db_url: str, worker_id: str, started_at: int, heartbeat_at: int) -> None:
    """A worker row as a pool's worker leaves it: started at ``started_at``, last heartbeat
    at ``heartbeat_at`` (epoch ms)."""
    sql = ("INSERT INTO workers (id, host, pid, queues, state, started_at, heartbeat_at) "
           "VALUES ({0}, 'elsewhere', 4242, '[]', 'idle', {0}, {0}) ON CONFLICT (id) DO "
           "UPDATE SET started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at")
    params = (worker_id, started_at, heartbeat_at)
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s").encode(), params)
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute(sql.format("?"), params)


def now_ms() -> int:
    return to_ms(datetime.now(UTC))


# Worker rows, as (started, last heartbeat) seconds before the tick / before now.
NO_POOL: list[tuple[int, int]] = []
STARTED_AFTER = [(-2, 1)]  # a pool started 2 s after the tick (3 s ago)
ALL_STARTED_AFTER = [(-2, 1), (-4, 0)]  # its workers all started after it


def yearly(**kw: object) -> CronSpec:
    """A schedule whose own ticks cannot come between a planted tick and now (as an hourly
    one's can, when the hour turns in a test): the planted tick is the one fired."""
    return CronSpec(name="report", schedule="@yearly", tz="UTC", command="echo hi", **kw)  # type: ignore[arg-type]


def plant_pool(db_url: str, tick: int, workers: list[tuple[int, int]]) -> None:
    for n, (started_s, quiet_s) in enumerate(workers):
        plant_worker(db_url, f"w-{n}", tick - started_s * 1000, now_ms() - quiet_s * 1000)


@pytest.mark.parametrize("workers", [NO_POOL, STARTED_AFTER, ALL_STARTED_AFTER])
def test_catch_up_none_misses_a_tick_that_came_while_no_pool_ran_however_short_ago(
    store: Storage, db_url: str, workers: list[tuple[int, int]]
) -> None:
    store.cron_add(yearly(catch_up=CatchUp.NONE))
    tick = now_ms() - 5000  # 5 s ago: the pools start after it
    plant_pool(db_url, tick, workers)
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert (fired.tick, fired.job_id) == (None, None)
    assert store.list_jobs(cron="report") == []
    nxt = store.cron_get("report").next_run_at
    assert nxt is not None and nxt > datetime.now(UTC)
    assert store.cron_fire() == []


@pytest.mark.parametrize("back_hours", [0, 2])  # the tick due, or several ticks since
@pytest.mark.parametrize("workers", [
    [(5 * 3600, 1)],  # one worker, up for hours: busy, it heartbeats but fires 10 s late
    [(5 * 3600, 5), (-5, 0)],  # and a worker its supervisor restarted after the tick
])
def test_catch_up_none_runs_late_a_tick_that_came_while_a_busy_pool_ran(
    store: Storage, db_url: str, back_hours: int, workers: list[tuple[int, int]]
) -> None:
    store.cron_add(hourly(catch_up=CatchUp.NONE))
    tick = now_ms() - 10_000  # fired 10 s late: the pool was busy
    plant_pool(db_url, tick, workers)
    set_next_run(db_url, "report", tick - back_hours * HOUR_MS)
    [fired] = store.cron_fire()
    # The latest tick that came (the hour may have turned since the planted one).
    assert fired.tick is not None and to_ms(fired.tick) == max(
        tick - back_hours * HOUR_MS, this_hour_ms())
    assert fired.job_id is not None
    assert [j.id for j in store.list_jobs(cron="report")] == [fired.job_id]


@pytest.mark.parametrize("lease", ["30", "600"])
def test_a_worker_silent_since_before_the_tick_is_no_pool_whatever_the_lease(
    store: Storage, db_url: str, lease: str
) -> None:
    """A worker that started before the tick but has not heartbeated since may have died
    before the tick came (its row stays alive for a lease): it does not count, the live one
    started later does not cover the tick, and so it is missed. Once the same worker has
    heartbeated after the tick, it counts."""
    store.config_set("lease-timeout", lease)
    store.cron_add(yearly(catch_up=CatchUp.NONE))
    tick = now_ms() - 10_000
    plant_pool(db_url, tick, [(3600, 12), (-5, 0)])  # quiet since 2 s before the tick
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert (fired.tick, fired.job_id) == (None, None)
    plant_pool(db_url, tick, [(3600, 8), (-5, 0)])  # it heartbeated 2 s after the tick
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert fired.tick is not None and to_ms(fired.tick) == tick and fired.job_id is not None


@pytest.mark.parametrize("workers", [NO_POOL, STARTED_AFTER, [(3600, 1)]])
def test_catch_up_latest_runs_the_tick_whether_a_pool_ran_or_not(
    store: Storage, db_url: str, workers: list[tuple[int, int]]
) -> None:
    store.cron_add(yearly())
    tick = now_ms() - 5000
    plant_pool(db_url, tick, workers)
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert fired.tick is not None and to_ms(fired.tick) == tick
    assert fired.job_id is not None
