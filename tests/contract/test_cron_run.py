"""Recurring jobs fired and run by the embedded worker on the test's clock, read through
the CLI: pause and resume, overlap skip, catch-up none from the worker's side. Ticks come
as the clock moves; nothing waits for a schedule."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from queuectl.models import AttemptResult, Outcome, WorkerInfo, iso, to_ms, utcnow
from queuectl.pool.worker import Worker
from queuectl.retry import after_failure
from queuectl.schedules import jitter_ms
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID, PID_SCOPE
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock
from tests.contract.test_cron import set_next_run
from tests.helpers import ticks, wait_until
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_pause_and_resume(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "beat", "every 1s", "-c", "true", "--overlap", "allow")
    clock.move(1)
    assert worker.work_until_idle() == 1
    assert len(ticks(cli, "beat")) == 1
    cli.ok("cron", "pause", "beat")
    assert cli.json("cron", "list")[0]["paused"] is True
    for _ in range(3):
        clock.move(1)
        assert worker.work_until_idle() == 0
    assert len(ticks(cli, "beat")) == 1
    cli.ok("cron", "resume", "beat")
    for count in (2, 3):
        clock.move(1)
        assert worker.work_until_idle() == 1
        assert len(ticks(cli, "beat")) == count


def test_a_pool_that_looks_seconds_late_enqueues_every_tick_it_passed_over(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    """A loaded pool late by a few seconds is late, not down: no tick of `every 1s` is lost
    (a CI run once saw one go when a pool looked 2 s after it)."""
    cli = clocked_cli
    started = datetime.fromtimestamp(clock.now(), UTC)
    clocked_store.register_worker(WorkerInfo("pool", HOST_ID, os.getpid(), "busy", None,
                                             started, started, [], PID_SCOPE))
    cli.ok("cron", "add", "beat", "every 1s", "-c", "true", "--overlap", "allow")
    clock.move(1)
    assert worker.work_until_idle() == 1
    clock.move(3.5)
    clocked_store.heartbeat("pool", None)  # busy all along; the ticks fire 3.5 s late
    worker.work_until_idle()
    found = ticks(cli, "beat")
    assert found == [found[0] + s for s in range(int(clock.now()) - int(found[0]) + 1)]
    assert len(found) >= 4


def test_overlap_skip_never_runs_two_jobs_at_once_and_records_skips(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("busy", "elsewhere", 1, "idle", None, now, now))
    cli.ok("cron", "add", "slow", "every 1s", "-c", "true")  # overlap skip: the default
    clock.move(1)
    [fired] = clocked_store.cron_fire()
    held = clocked_store.claim("busy")  # its job runs long, on another host
    assert held is not None and held.id == fired.job_id
    for _ in range(2):  # ticks that come while it runs are skipped
        clock.move(1)
        assert worker.work_until_idle() == 0
    ok = AttemptResult(Outcome.SUCCEEDED, exit_code=0)
    clocked_store.finish(held, "busy", ok, after_attempt(
        held, ok, lambda j: after_failure(j.attempts, j.max_retries, 2, 60)))
    clock.move(1)
    assert worker.work_until_idle() == 1  # the next tick runs again
    shown = cli.json("cron", "show", "slow")
    assert shown["skipped"] == 2 and len(shown["skipped_ticks"]) == 2
    assert shown["last_job"] is not None
    jobs = [j for j in shown["recent_jobs"] if j["started_at"]]
    assert len(jobs) == 2
    spans = sorted((j["started_at"], j["finished_at"] or "9") for j in jobs)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, spans  # one at a time


def test_catch_up_none_misses_a_tick_from_before_the_worker_and_runs_one_it_saw(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
    db_url: str,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "late", "every 1h", "-c", "true", "--catch-up", "none")
    # A tick 3 s before any worker ran: the worker that starts now fires it as missed.
    set_next_run(db_url, "late", int(clock.now() * 1000) - 3000)
    assert worker.work_until_idle() == 0
    [doc] = cli.json("cron", "list")
    assert datetime.fromisoformat(doc["next_run_at"]).timestamp() > clock.now()
    assert cli.json("list", "--cron", "late") == []
    # A pool up since before the next tick, which it fires late (as a busy pool does): the
    # tick runs.
    started = datetime.fromtimestamp(clock.now(), UTC)
    clocked_store.register_worker(WorkerInfo("pool", HOST_ID, os.getpid(), "idle", None,
                                             started, started, [], PID_SCOPE))
    clock.move(5)
    clocked_store.heartbeat("pool", None)
    tick_ms = to_ms(started) + 2000
    set_next_run(db_url, "late", tick_ms)
    assert worker.work_until_idle() == 1
    assert ticks(cli, "late") == [tick_ms / 1000]


def test_catch_up_none_misses_a_tick_that_came_after_the_last_pool_died_however_short_ago(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
    db_url: str,
) -> None:
    """A pool killed just before a tick leaves its workers' rows alive for a lease: they
    prove nothing about a tick after their last heartbeat, so a pool started a few seconds
    later misses it."""
    cli = clocked_cli
    cli.ok("cron", "add", "late", "every 1h", "-c", "true", "--catch-up", "none")
    started = datetime.fromtimestamp(clock.now(), UTC)
    clocked_store.register_worker(WorkerInfo("dead", HOST_ID, os.getpid(), "busy", None,
                                             started, started, [], PID_SCOPE))
    clock.move(2)
    clocked_store.heartbeat("dead", None)  # its last heartbeat; killed right after
    set_next_run(db_url, "late", int(clock.now() * 1000) + 1000)
    clock.move(4)  # the tick came 3 s ago; the dead pool's heartbeat is well within the lease
    assert worker.work_until_idle() == 0
    assert cli.json("list", "--cron", "late") == []


def test_a_schedules_job_runs_with_its_name_and_tick_in_the_environment(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "env", "every 1h", "-c", 'echo "$QUEUECTL_CRON $QUEUECTL_TICK"')
    clock.move(3600)
    assert worker.work_until_idle() == 1
    [job] = cli.json("list", "--cron", "env")
    tick = job["id"].split("@", 1)[1]
    assert cli.ok("logs", job["id"]).strip() == f"env {tick}"
    manual = cli.ok("cron", "run", "env").strip()  # outside the ticks: when it was enqueued
    assert worker.work_until_idle() == 1
    shown = cli.json("show", manual)
    assert cli.ok("logs", manual).strip() == f"env {shown['created_at']}"


def test_jitter_makes_a_ticks_job_due_at_the_tick_plus_its_offset(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "spread", "every 1h", "-c", "true", "--jitter", "50m")
    [doc] = cli.json("cron", "list")
    assert doc["jitter"] == 3000
    tick_ms = round(datetime.fromisoformat(doc["next_run_at"]).timestamp() * 1000)
    clock.move(tick_ms / 1000 - clock.now())  # the tick has just come
    worker.work_until_idle()
    [job] = cli.json("list", "--cron", "spread")
    tick = datetime.fromtimestamp(tick_ms / 1000, UTC)
    assert job["id"] == f"spread@{iso(tick)}"  # the id is still the tick's
    offset = jitter_ms("spread", tick, 3_000_000)
    assert job["run_at"] == iso(datetime.fromtimestamp((tick_ms + offset) / 1000, UTC))
    if offset > 0:
        assert job["state"] == "pending"
    clock.move(offset / 1000)
    assert worker.work_until_idle() == 1
    assert cli.json("show", job["id"])["state"] == "completed"


def _next_tick_ms(cli: InProcessCli, name: str) -> int:
    [doc] = [d for d in cli.json("cron", "list") if d["name"] == name]
    return round(datetime.fromisoformat(doc["next_run_at"]).timestamp() * 1000)


def test_overlap_replace_cancels_the_unfinished_job_and_enqueues_the_ticks(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "fresh", "every 1h", "-c", "true", "--overlap", "replace")
    clock.move(_next_tick_ms(cli, "fresh") / 1000 - clock.now())
    [first] = clocked_store.cron_fire()
    assert first.job_id is not None and first.replaced is None
    clock.move(3600)  # its job never ran: pending still
    [second] = clocked_store.cron_fire()
    assert second.job_id is not None and second.replaced == first.job_id
    assert cli.json("show", first.job_id)["state"] == "cancelled"
    assert cli.json("show", second.job_id)["state"] == "pending"
    assert cli.json("cron", "show", "fresh")["overlap"] == "replace"


def test_overlap_replace_kills_the_running_job(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
    tmp_path: Path,
) -> None:
    """The first job hangs; the next tick, fired by the busy worker's own check, cancels
    it, the worker kills it, and runs the tick's job."""
    cli = clocked_cli
    script = f"if [ -e {tmp_path}/ran ]; then true; else touch {tmp_path}/ran; sleep 120; fi"
    cli.ok("cron", "add", "hang", "every 1h", "-c", script, "--overlap", "replace")
    clock.move(_next_tick_ms(cli, "hang") / 1000 - clock.now())
    ran: list[int] = []
    thread = threading.Thread(target=lambda: ran.append(worker.work_until_idle()))
    thread.start()
    try:
        wait_until(lambda: [j.state for j in clocked_store.list_jobs(cron="hang")]
                   == ["processing"], what="the first job to run")
        [first] = clocked_store.list_jobs(cron="hang")
        clock.move(3600)
    finally:
        thread.join(timeout=60)
    assert not thread.is_alive() and ran == [2]
    jobs = {j.id: j for j in clocked_store.list_jobs(cron="hang")}
    assert jobs[first.id].state == "cancelled"
    [other] = [j for j in jobs.values() if j.id != first.id]
    assert other.state == "completed"


def test_backfill_enqueues_each_missed_tick_once(
    clocked_cli: InProcessCli, clock: MovingClock,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "hourly", "@hourly", "-c", "true", "--tz", "UTC")
    now = clock.now()
    top = now - now % 3600  # the latest tick
    start = datetime.fromtimestamp(top - 5 * 3600, UTC)
    made = cli.ok("cron", "backfill", "hourly", "--from", iso(start) or "",
                  "--to", "0s").split()
    want = [f"hourly@{iso(datetime.fromtimestamp(top - h * 3600, UTC))}" for h in range(5, -1, -1)]
    assert made == want
    assert sorted(j["id"] for j in cli.json("list", "--cron", "hourly")) == sorted(want)
    # Again, over a wider range: only the ticks without a job.
    again = cli.json("cron", "backfill", "hourly", "--from", "7h", "--to", "0s")
    assert again == [f"hourly@{iso(datetime.fromtimestamp(top - 6 * 3600, UTC))}"]


def test_backfill_refusals_write_nothing(clocked_cli: InProcessCli) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "often", "every 1s", "-c", "true")
    cases = [
        (["often", "--from", "2h", "--to", "0s"], 1, "more than 1000"),
        (["often", "--from", "1m", "--to", "2m"], 1, "is after --to"),
        (["often", "--from", "1m", "--to", "2999-01-01T00:00:00Z"], 1, "in the future"),
        (["nope", "--from", "1m", "--to", "0s"], 1, "not found"),
        (["often", "--from", "yesterday", "--to", "0s"], 2, "invalid --from"),
        (["often", "--from", "1m"], 2, "--to"),
    ]
    for args, code, words in cases:
        proc = cli.run("cron", "backfill", *args)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, proc.stderr)
    assert cli.json("list") == []
