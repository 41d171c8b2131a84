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


# --- --catch-up none: missed only when no pool watched -------------------------------------
# A pool's looks are planted in the store's watch (as if a pool had looked then), and a tick
# in its schedule, both relative to now: the store's own clock is not set back.

def set_watch(db_url: str, watched_from: int, watched_until: int) -> None:
    """Plant the pools' watch: it began at ``watched_from``, last looked at ``watched_until``."""
    sql = ("INSERT INTO cron_watch (id, watched_from, watched_until) VALUES (1, {0}, {0}) "
           "ON CONFLICT (id) DO UPDATE SET watched_from = excluded.watched_from, "
           "watched_until = excluded.watched_until")
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s").encode(), (watched_from, watched_until))
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute(sql.format("?"), (watched_from, watched_until))


def watched(db_url: str) -> tuple[int, int] | None:
    sql = "SELECT watched_from, watched_until FROM cron_watch"
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url) as conn:
            row = conn.execute(sql.encode()).fetchone()
    else:
        with sqlite3.connect(db_url) as conn:
            row = conn.execute(sql).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def now_ms() -> int:
    return to_ms(datetime.now(UTC))


@pytest.mark.parametrize("last_look_s", [None, 40, 3600])  # never, or well before the tick
def test_catch_up_none_misses_a_tick_that_came_while_no_pool_ran_however_short_ago(
    store: Storage, db_url: str, last_look_s: int | None
) -> None:
    store.cron_add(hourly(catch_up=CatchUp.NONE))
    if last_look_s is not None:
        set_watch(db_url, now_ms() - 7200_000, now_ms() - 5000 - last_look_s * 1000)
    set_next_run(db_url, "report", now_ms() - 5000)  # 5 s ago: a pool starts now
    [fired] = store.cron_fire()
    assert (fired.tick, fired.job_id) == (None, None)
    assert store.list_jobs(cron="report") == []
    nxt = store.cron_get("report").next_run_at
    assert nxt is not None and nxt > datetime.now(UTC)
    assert store.cron_fire() == []


@pytest.mark.parametrize("back_hours", [0, 2])  # the tick due, or several ticks since
def test_catch_up_none_runs_late_a_tick_that_came_while_a_busy_pool_ran(
    store: Storage, db_url: str, back_hours: int
) -> None:
    store.cron_add(hourly(catch_up=CatchUp.NONE))
    tick = now_ms() - 10_000  # fired 10 s late: the pool was busy
    # The pool has watched for hours, and last looked just before the tick came.
    set_watch(db_url, tick - 5 * HOUR_MS, tick - 1000)
    set_next_run(db_url, "report", tick - back_hours * HOUR_MS)
    [fired] = store.cron_fire()
    # The latest tick that came (the hour may have turned since the planted one).
    assert fired.tick is not None and to_ms(fired.tick) == max(
        tick - back_hours * HOUR_MS, this_hour_ms())
    assert fired.job_id is not None
    assert [j.id for j in store.list_jobs(cron="report")] == [fired.job_id]


def test_a_look_a_little_ahead_is_another_pools_not_a_silence(store: Storage,
                                                                db_url: str) -> None:
    """A pool reads the due tick, another looks at a later "now" before the first fires: the
    first one's look must not take that for a clock set back and begin a new watch."""
    store.cron_add(hourly(catch_up=CatchUp.NONE))
    tick = now_ms() - 10_000
    set_watch(db_url, tick - HOUR_MS, now_ms() + 3000)
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert fired.job_id is not None


@pytest.mark.parametrize("last_look_s", [None, 40, 1])
def test_catch_up_latest_runs_the_tick_watched_or_not(
    store: Storage, db_url: str, last_look_s: int | None
) -> None:
    store.cron_add(hourly())
    tick = now_ms() - 5000
    if last_look_s is not None:
        set_watch(db_url, tick - HOUR_MS, tick - last_look_s * 1000)
    set_next_run(db_url, "report", tick)
    [fired] = store.cron_fire()
    assert fired.tick is not None and to_ms(fired.tick) == max(tick, this_hour_ms())
    assert fired.job_id is not None


def test_a_look_goes_on_with_the_watch_or_begins_one_after_a_silence(
    store: Storage, db_url: str
) -> None:
    assert watched(db_url) is None  # no pool ever looked
    before = now_ms()
    store.cron_watch()
    found = watched(db_url)
    assert found is not None and before - 1000 <= found[0] == found[1] <= now_ms() + 1000
    hour_ago = now_ms() - HOUR_MS
    lately = now_ms() - 1000
    set_watch(db_url, hour_ago, lately)  # looked a second ago: nothing written
    store.cron_watch()
    assert watched(db_url) == (hour_ago, lately)
    set_watch(db_url, hour_ago, now_ms() - 12_000)  # a pool's pace: the watch goes on
    store.cron_watch()
    again = watched(db_url)
    assert again is not None and again[0] == hour_ago and again[1] >= now_ms() - 2000
    set_watch(db_url, hour_ago, now_ms() - 60_000)  # a silence: a new watch begins now
    store.cron_watch()
    anew = watched(db_url)
    assert anew is not None and anew[0] == anew[1] >= now_ms() - 2000
    ahead = now_ms() + 2000  # another process's look, its "now" later than this one's
    set_watch(db_url, hour_ago, ahead)
    store.cron_watch()
    assert watched(db_url) == (hour_ago, ahead)
    set_watch(db_url, hour_ago, now_ms() + HOUR_MS)  # a look far ahead: the clock was set back
    store.cron_watch()
    back = watched(db_url)
    assert back is not None and back[0] == back[1] <= now_ms()
