"""The worker in-process, on both stores: Worker.work_until_idle runs the real claim → run
→ finish (a real shell command in its own process group) until nothing is due, and the
test's clock (tests/clocks.py) moves time past backoffs, leases and ticks instead of
sleeping them out."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from queuectl.models import JobSpec, Outcome, State, WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.recurring import CronSpec
from queuectl.storage.base import Storage
from tests.acceptance.process_tools import assert_group_gone, read_pid
from tests.clocks import MovingClock

# A shell that leaves a child in its process group (both pids written where it runs).
BACKGROUND_CHILD = "echo $$ > sh.pid; sleep 300 & echo $! > child.pid"

HOUR = 3600.0


def worker(store: Storage, clock: MovingClock, queues: tuple[str, ...] = ()) -> Worker:
    return Worker(store, queues, clocks=clock.clocks)


def spec(**fields: object) -> JobSpec:
    """A job as enqueue_core would resolve it (no retries unless asked)."""
    fields.setdefault("max_retries", 0)
    return JobSpec(**fields)  # type: ignore[arg-type]


def state(store: Storage, job_id: str) -> State:
    job = store.get_job(job_id)
    assert job is not None
    return job.state


def test_a_job_runs_and_its_output_is_kept(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.enqueue([spec(command="echo hello; echo oops >&2", id="a")])
    assert worker(clocked_store, clock).work_until_idle() == 1
    job = clocked_store.get_job("a")
    assert job is not None and job.state is State.COMPLETED
    assert (job.attempts, job.exit_code, job.last_error) == (1, 0, None)
    out = clocked_store.read_output("a")
    assert out is not None and out.data == b"hello\noops\n"
    assert clocked_store.list_workers() == []  # unregistered on return


def test_nothing_due_returns_at_once(clocked_store: Storage, clock: MovingClock) -> None:
    later = utcnow() + timedelta(hours=1)
    clocked_store.enqueue([spec(command="true", id="later", run_at=later)])
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 0
    assert state(clocked_store, "later") is State.PENDING
    clock.move(HOUR + 1)
    assert w.work_until_idle() == 1
    assert state(clocked_store, "later") is State.COMPLETED


def test_max_jobs_leaves_the_rest_pending(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.enqueue([spec(command="true", id=f"j{i}") for i in range(3)])
    w = worker(clocked_store, clock)
    assert w.work_until_idle(max_jobs=2) == 2
    states = sorted(state(clocked_store, f"j{i}") for i in range(3))
    assert states == [State.COMPLETED, State.COMPLETED, State.PENDING]
    assert w.work_until_idle() == 1


def test_retry_with_backoff_then_the_dlq(clocked_store: Storage, clock: MovingClock) -> None:
    # Stopped 1 s short of a wait: real time passing beside the moved clock (over a second
    # between two steps on a loaded machine) must not make up the difference.
    clock.freeze()
    clocked_store.config_set("backoff-base", "10")  # waits of 10 s, then 100 s
    clocked_store.enqueue([spec(command="echo no; exit 3", id="f", max_retries=2)])
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 1
    job = clocked_store.get_job("f")
    assert job is not None and job.state is State.FAILED and job.attempts == 1
    assert w.work_until_idle() == 0  # its backoff has not passed
    clock.move(9)
    assert w.work_until_idle() == 0
    clock.move(2)
    assert w.work_until_idle() == 1
    assert state(clocked_store, "f") is State.FAILED
    clock.move(99)
    assert w.work_until_idle() == 0
    clock.move(2)
    assert w.work_until_idle() == 1
    job = clocked_store.get_job("f")
    assert job is not None and job.state is State.DEAD and job.attempts == 3
    assert job.exit_code == 3 and job.last_error == "exit code 3"
    log = clocked_store.attempts("f")
    assert [a.exit_code for a in log] == [3, 3, 3]
    gaps = [(log[i + 1].started_at - log[i].finished_at).total_seconds()  # type: ignore[operator]
            for i in range(2)]
    assert 10 <= gaps[0] < 20 and 100 <= gaps[1] < 110, gaps  # 10 ** 1, 10 ** 2
    assert [j.id for j in clocked_store.list_jobs(state=State.DEAD)] == ["f"]


def test_a_silent_workers_job_is_recovered_past_the_lease(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    # A worker of another host that claimed a job and fell silent.
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("ghost", "elsewhere", 1, "idle", None, now, now))
    clocked_store.enqueue([spec(command="echo again", id="held", max_retries=1)])
    held = clocked_store.claim("ghost")
    assert held is not None and held.id == "held"
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 0  # within the lease: still the ghost's
    assert state(clocked_store, "held") is State.PROCESSING
    clock.move(31)  # past the default lease (30 s), watched by this worker all along
    assert w.work_until_idle() == 0  # handed back, to be retried after its backoff
    assert state(clocked_store, "held") is State.FAILED
    clock.move(2)  # backoff-base 2: the first retry waits 2 s
    assert w.work_until_idle() == 1
    job = clocked_store.get_job("held")
    assert job is not None and job.state is State.COMPLETED and job.worker == w.id
    log = clocked_store.attempts("held")
    assert [a.worker for a in log] == ["ghost", w.id]
    assert log[0].error == "worker lost"


def test_a_cancelled_job_never_runs(
    clocked_store: Storage, clock: MovingClock, tmp_path: Path,
) -> None:
    marker = f"{tmp_path}/ran"
    clocked_store.enqueue([spec(command=f"touch {marker}", id="c")])
    clocked_store.cancel(["c"])
    assert worker(clocked_store, clock).work_until_idle() == 0
    assert state(clocked_store, "c") is State.CANCELLED
    assert not os.path.exists(marker)


def test_a_job_cancelled_while_it_runs_has_its_group_killed(
    clocked_store: Storage, clock: MovingClock, db_url: str, tmp_path: Path,
) -> None:
    # The job starts a background child, cancels itself through the CLI, and waits.
    command = (f"cd {tmp_path}; {BACKGROUND_CHILD}; "
               f"queuectl --db '{db_url}' cancel \"$QUEUECTL_JOB_ID\" >/dev/null; wait")
    clocked_store.enqueue([spec(command=command, id="long", max_retries=1)])
    assert worker(clocked_store, clock).work_until_idle() == 1
    assert_group_gone(read_pid(tmp_path / "sh.pid"), read_pid(tmp_path / "child.pid"))
    job = clocked_store.get_job("long")
    assert job is not None and job.state is State.CANCELLED and job.attempts == 1
    [attempt] = clocked_store.attempts("long")
    assert attempt.outcome is Outcome.CANCELLED and attempt.finished_at is not None
    clock.move(HOUR)  # longer than any retry would wait
    assert worker(clocked_store, clock).work_until_idle() == 0


def test_a_timeout_kills_the_whole_group_then_retries_then_the_dlq(
    clocked_store: Storage, clock: MovingClock, tmp_path: Path,
) -> None:
    clocked_store.enqueue([spec(command=f"cd {tmp_path}; {BACKGROUND_CHILD}; wait", id="slow",
                                timeout=0.3, max_retries=1)])
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 1
    assert_group_gone(read_pid(tmp_path / "sh.pid"), read_pid(tmp_path / "child.pid"))
    job = clocked_store.get_job("slow")
    assert job is not None and job.state is State.FAILED
    assert job.last_error == "timed out after 0.3s"
    clock.move(3)  # the first retry waits 2 s
    assert w.work_until_idle() == 1
    assert_group_gone(read_pid(tmp_path / "sh.pid"), read_pid(tmp_path / "child.pid"))
    job = clocked_store.get_job("slow")
    assert job is not None and job.state is State.DEAD and job.attempts == 2
    attempts = clocked_store.attempts("slow")
    assert [a.outcome for a in attempts] == [Outcome.TIMED_OUT] * 2
    assert [a.error for a in attempts] == ["timed out after 0.3s"] * 2


def test_priority_first_then_the_oldest(
    clocked_store: Storage, clock: MovingClock, tmp_path: Path,
) -> None:
    order = tmp_path / "order"
    names = [("low", 0), ("high-a", 5), ("mid", 1), ("high-b", 5), ("neg", -3)]
    for name, priority in names:  # one batch each: the oldest is enqueued first
        clocked_store.enqueue([spec(command=f"echo {name} >> {order}", priority=priority)])
    assert worker(clocked_store, clock).work_until_idle() == len(names)
    assert order.read_text().split() == ["high-a", "high-b", "mid", "low", "neg"]


def test_a_child_runs_after_its_parent(
    clocked_store: Storage, clock: MovingClock, tmp_path: Path,
) -> None:
    log = f"{tmp_path}/order"
    clocked_store.enqueue([
        spec(command=f"echo child >> {log}", id="child", after=("parent",), priority=9),
        spec(command=f"echo parent >> {log}", id="parent"),
    ])
    assert worker(clocked_store, clock).work_until_idle() == 2
    with open(log) as f:
        assert f.read().split() == ["parent", "child"]
    assert state(clocked_store, "child") is State.COMPLETED


def test_a_dead_parents_child_never_runs(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.enqueue([
        spec(command="exit 1", id="parent", max_retries=0),
        spec(command="true", id="child", after=("parent",)),
    ])
    assert worker(clocked_store, clock).work_until_idle() == 1
    assert state(clocked_store, "parent") is State.DEAD
    assert state(clocked_store, "child") is not State.COMPLETED
    clock.move(HOUR)
    assert worker(clocked_store, clock).work_until_idle() == 0


def test_cron_ticks_come_as_the_clock_moves(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.cron_add(CronSpec(name="tick", schedule="every 1h", tz="UTC",
                                    command="echo tick"))
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 0  # the first tick is up to an hour away
    clock.move(HOUR)
    assert w.work_until_idle() == 1
    clock.move(HOUR)
    assert w.work_until_idle() == 1
    jobs = clocked_store.list_jobs()
    assert len(jobs) == 2 and {j.state for j in jobs} == {State.COMPLETED}


def test_a_unique_key_is_free_again_once_its_job_ran(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    first = clocked_store.enqueue([spec(command="true", unique_key="k")])
    again = clocked_store.enqueue([spec(command="true", unique_key="k")])
    assert [j.id for j in again] == [j.id for j in first]  # the same job
    assert worker(clocked_store, clock).work_until_idle() == 1
    third = clocked_store.enqueue([spec(command="true", unique_key="k")])
    assert [j.id for j in third] != [j.id for j in first]


def test_a_paused_queue_waits(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.queue_update("slow", paused=True)
    clocked_store.enqueue([spec(command="true", id="p", queue="slow")])
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 0
    clocked_store.queue_update("slow", paused=False)
    assert w.work_until_idle() == 1


def test_retention_deletes_finished_jobs_once_past_it(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    clocked_store.config_set("retention", "1h")
    clocked_store.enqueue([spec(command="true", id="old")])
    assert worker(clocked_store, clock).work_until_idle() == 1
    assert clocked_store.get_job("old") is not None
    clock.move(HOUR + 1)
    worker(clocked_store, clock).work_until_idle()  # (a new worker prunes first thing)
    assert clocked_store.get_job("old") is None


def test_max_jobs_zero_runs_none(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.enqueue([spec(command="true", id="z")])
    assert worker(clocked_store, clock).work_until_idle(max_jobs=0) == 0
    assert state(clocked_store, "z") is State.PENDING


def test_a_delayed_job_starts_no_sooner_than_its_time(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    later = utcnow() + timedelta(seconds=clock.offset + 60)
    clocked_store.enqueue([spec(command="true", id="d", run_at=later)])
    w = worker(clocked_store, clock)
    clock.move(50)
    assert w.work_until_idle() == 0
    clock.move(11)
    assert w.work_until_idle() == 1
    job = clocked_store.get_job("d")
    assert job is not None and job.started_at is not None and job.started_at >= later


def test_a_queue_limit_of_zero_holds_back_and_removing_it_releases(
    clocked_store: Storage, clock: MovingClock,
) -> None:
    clocked_store.queue_update("gpu", limit=0)
    clocked_store.enqueue([spec(command="true", id="held", queue="gpu"),
                           spec(command="true", id="free")])
    w = worker(clocked_store, clock)
    assert w.work_until_idle() == 1
    assert state(clocked_store, "free") is State.COMPLETED
    assert state(clocked_store, "held") is State.PENDING
    clocked_store.queue_update("gpu", limit=None)
    assert w.work_until_idle() == 1
    assert state(clocked_store, "held") is State.COMPLETED


def test_a_paused_schedule_fires_no_tick(clocked_store: Storage, clock: MovingClock) -> None:
    clocked_store.cron_add(CronSpec(name="beat", schedule="every 1h", tz="UTC",
                                    command="true"))
    clocked_store.cron_set_paused("beat", True)
    w = worker(clocked_store, clock)
    clock.move(3 * HOUR)
    assert w.work_until_idle() == 0
    clocked_store.cron_set_paused("beat", False)  # the next tick counts from now
    assert w.work_until_idle() == 0
    clock.move(HOUR)
    assert w.work_until_idle() == 1
    assert len(clocked_store.list_jobs()) == 1
