"""A worker taken for lost, as the store sees it: whether a worker holds a job is read from
the job's row (its worker and attempt number), never from whether the worker's own row is
there; a worker whose row is gone claims nothing until it registers again; and a claim is
itself a sign of life, so a job claimed a moment ago is never recovered as lost."""

from __future__ import annotations

import os
import subprocess

import pytest

from queuectl.hostinfo import boot_id, pid_namespace
from queuectl.models import (
    AttemptResult,
    IdlePlan,
    Job,
    JobSpec,
    Outcome,
    State,
    WorkerInfo,
    utcnow,
)
from queuectl.pool.recovery import recover_stale
from queuectl.retry import NextStep, after_failure
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID, PID_SCOPE, is_lost
from queuectl.storage.sql_store import SqlStore
from queuectl.transitions import after_attempt
from tests.clocks import MovingClock

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")

LEASE = 0.2  # seconds: short (the clock moves past it, see ``silence``)
LONG_LEASE = 30.0  # seconds: never outlasted here
OK = AttemptResult(Outcome.SUCCEEDED, 0, None, b"done\n")


@pytest.fixture
def store(clocked_store: Storage) -> Storage:
    """The test's store on the test's clock: silence past the lease is a move of it."""
    return clocked_store


def silence(clock: MovingClock) -> None:
    """Time past the lease, for every worker that says nothing meanwhile."""
    clock.move(LEASE * 1.5)


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def retry_now(job: Job) -> NextStep:
    return NextStep(State.FAILED, job.attempts + 1, 0.0)


def register(store: Storage, worker_id: str) -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, os.getpid(), "idle", None, now, now))
    return worker_id


def enqueue(store: Storage, *ids: str) -> None:
    store.enqueue([JobSpec(command="true", id=job_id, max_retries=3) for job_id in ids])


def claim(store: Storage, worker: str) -> Job:
    job = store.claim(worker)
    assert job is not None
    return job


def taken_for_lost(store: Storage, clock: MovingClock, worker: str, job: Job,
                   policy: object = policy) -> None:
    """Silent past the lease: another worker recovers ``job`` and removes ``worker``."""
    silence(clock)
    recovered = recover_stale(store, LEASE, policy)  # type: ignore[arg-type]
    assert [(r.job_id, r.worker) for r in recovered] == [(job.id, worker)]


def test_a_worker_whose_row_went_keeps_the_job_its_row_names(store: Storage) -> None:
    enqueue(store, "a")
    w = register(store, "w")
    held = claim(store, "w")
    store.unregister_worker(w)  # its row is gone; the job's row still names it
    beat = store.heartbeat(w, held)
    assert beat.lost and not beat.job_lost
    assert not store.check_in(w, held).job_lost


def test_a_worker_is_told_it_lost_a_recovered_job_even_once_it_runs_again(
    store: Storage, clock: MovingClock,
) -> None:
    enqueue(store, "a")
    register(store, "w")
    first = claim(store, "w")
    taken_for_lost(store, clock, "w", first, retry_now)
    beat = store.heartbeat("w", first)
    assert beat.lost and beat.job_lost
    register(store, "v")
    second = claim(store, "v")  # the retry runs: the job is processing again, for v
    assert (second.id, second.last_attempt) == ("a", 2)
    register(store, "w")
    assert store.check_in("w", first).job_lost  # attempt 1 is not w's any more
    assert store.heartbeat("w", first).job_lost
    assert not store.check_in("v", second).job_lost


def test_a_worker_taken_for_lost_claims_nothing_until_it_registers_again(
    store: Storage, clock: MovingClock,
) -> None:
    enqueue(store, "a", "b")
    register(store, "w")
    first = claim(store, "w")
    taken_for_lost(store, clock, "w", first)
    assert store.claim("w") is None  # "b" is ready, but w is not registered
    # The lost lease claims nothing; "b" is due (the plan says so) but not for w.
    step = after_attempt(first, OK, policy)
    assert store.finish_and_claim(first, "w", OK, step) == (None, IdlePlan(0.0, None))
    assert store.get_job("b").state is State.PENDING  # type: ignore[union-attr]
    assert store.heartbeat("w", None).lost
    register(store, "w")
    assert claim(store, "w").id == "b"


def test_a_fresh_claim_is_never_recovered_while_its_worker_row_is_missing(
    store: Storage, clock: MovingClock,
) -> None:
    enqueue(store, "a")
    register(store, "w")
    held = claim(store, "w")
    store.unregister_worker("w")
    assert recover_stale(store, LONG_LEASE, policy) == []  # claimed just now: w is alive
    assert store.get_job("a").state is State.PROCESSING  # type: ignore[union-attr]
    silence(clock)  # silent past the lease since its claim: now it is lost
    [rec] = recover_stale(store, LEASE, policy)
    assert (rec.job_id, rec.worker, rec.new_state) == ("a", "w", State.FAILED)
    assert store.heartbeat("w", held).job_lost


def test_a_claim_is_a_sign_of_life(
    store: Storage, clock: MovingClock,
) -> None:
    """A worker silent past the lease that has just claimed a job is back, not lost."""
    enqueue(store, "a")
    register(store, "w")
    silence(clock)
    held = claim(store, "w")
    assert recover_stale(store, LEASE, policy) == []
    assert [w.id for w in store.list_workers()] == ["w"]
    assert not store.heartbeat("w", held).job_lost


def test_not_judging_silence_recovers_only_workers_whose_process_is_gone(
    store: Storage, clock: MovingClock,
) -> None:
    enqueue(store, "a")
    register(store, "w")
    claim(store, "w")
    silence(clock)
    assert recover_stale(store, LEASE, policy, judge_silence=False) == []
    assert len(recover_stale(store, LEASE, policy)) == 1


def test_a_claim_whose_answer_was_lost_is_reported_to_its_worker(store: Storage) -> None:
    """A claim committed while its answer was lost (the connection dropped) leaves a job
    that names a worker which does not know it: the worker's heartbeat says so."""
    enqueue(store, "a", "b")
    register(store, "w")
    stray = claim(store, "w")  # as if the answer never arrived
    assert store.heartbeat("w", None).also_held == stray.id
    assert store.check_in("w", None).also_held == stray.id
    running = claim(store, "w")
    assert store.heartbeat("w", running).also_held == stray.id
    store.finish(stray, "w", OK, after_attempt(stray, OK, policy))
    assert store.heartbeat("w", running).also_held is None


def test_a_recovery_look_reads_this_hosts_workers_and_the_silent_ones_only(
    store: Storage, clock: MovingClock,
) -> None:
    """Every pool looks every few seconds: one that read every worker of the fleet each
    time would cost the server the square of the fleet's size. Another host's live worker
    cannot be lost by either test (its pid is not ours to judge), so it is not read."""
    now = utcnow()
    for worker_id, host in (("far-silent", "elsewhere"), ("far-live", "elsewhere"),
                            ("here", HOST_ID)):
        store.register_worker(WorkerInfo(worker_id, host, 1, "idle", None, now, now, [],
                                         PID_SCOPE))
    silence(clock)
    for worker_id in ("far-live", "here"):
        assert not store.heartbeat(worker_id, None).lost
    assert isinstance(store, SqlStore)

    def read(lease: float | None) -> list[str]:
        lease_ms = None if lease is None else int(lease * 1000)
        params = {"lease_ms": lease_ms, "host": HOST_ID, "pid_scope": PID_SCOPE,
                  **store._clock()}
        return sorted(row[0] for row in store._read("vitals", params))

    assert read(LEASE) == ["far-silent", "here"]
    assert read(None) == ["here"]  # silence not judged: this host's alone
    recover_stale(store, LEASE, policy)
    assert sorted(w.id for w in store.list_workers()) == ["far-live", "here"]


def _gone_pid() -> int:
    """The pid of a process of ours that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_pid_is_judged_only_in_its_own_boot_and_pid_namespace(
    store: Storage, clock: MovingClock,
) -> None:
    """Pools on one host name but in other PID namespaces (containers sharing the host's
    network), or a worker row of a previous boot: a pid that is gone here says nothing of
    them. Only their silence makes them lost, whatever QUEUECTL_HOST_ID says."""
    assert PID_SCOPE  # (this machine says its boot id and PID namespace)
    scopes = {"here": PID_SCOPE, "other-namespace": f"{boot_id()}/pid:[1]",
              "previous-boot": f"an-earlier-boot/{pid_namespace()}", "unknown": ""}
    gone, now = _gone_pid(), utcnow()
    for worker_id, scope in scopes.items():
        store.register_worker(WorkerInfo(worker_id, HOST_ID, gone, "idle", None, now, now, [],
                                         scope))
        enqueue(store, f"job-{worker_id}")
        assert claim(store, worker_id).id == f"job-{worker_id}"
    found = {w.id: is_lost(w, utcnow().timestamp(), LONG_LEASE) for w in store.list_workers()}
    assert found == {"here": True, "other-namespace": False, "previous-boot": False,
                     "unknown": False}
    # Judged by pid, within a lease: the job of this namespace's dead worker alone.
    assert [r.job_id for r in recover_stale(store, LONG_LEASE, policy)] == ["job-here"]
    for worker_id in ("other-namespace", "previous-boot", "unknown"):
        job = store.get_job(f"job-{worker_id}")
        assert job is not None and (job.state, job.worker) == (State.PROCESSING, worker_id)
    silence(clock)  # then silent past the lease: lost by silence, as any host's
    recovered = recover_stale(store, LEASE, policy)
    assert sorted(str(r.worker) for r in recovered) == [
        "other-namespace", "previous-boot", "unknown"]


def _dead_worker_holding(store: Storage, worker_id: str, job_id: str) -> Job:
    """Worker ``worker_id`` on this host, its process gone, holding job ``job_id``."""
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, _gone_pid(), "idle", None, now, now,
                                     [], PID_SCOPE))
    enqueue(store, job_id)
    return claim(store, worker_id)


def _write_lock_free(db_url: str, worker_id: str, job_id: str) -> bool:
    """Whether another connection could take what a recovery's transaction locks, without
    waiting: SQLite's write lock; on PostgreSQL, the lost worker's row and its job's."""
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=False) as pg:
            try:
                pg.execute("SELECT 1 FROM workers WHERE id = %s FOR UPDATE NOWAIT",
                           (worker_id,))
                pg.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE NOWAIT", (job_id,))
            except psycopg.errors.LockNotAvailable:
                return False
            finally:
                pg.rollback()
        return True
    import sqlite3

    conn = sqlite3.connect(db_url, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked
        return False
    finally:
        conn.close()


def test_orphans_are_killed_with_no_lock_held_and_before_anyone_can_claim(
    store: Storage, db_url: str,
) -> None:
    """A kill scans /proc and signals process groups: it must not keep every writer of the
    store waiting (SQLite's write lock), nor hold the lost worker's rows (PostgreSQL); and
    the job must still be processing meanwhile, so that its retry never starts beside what
    is left of its first attempt."""
    job = _dead_worker_holding(store, "w-dead", "j-orphan")
    register(store, "w-live")
    seen: list[tuple[str, bool, Job | None]] = []

    def kill(lost_job: Job) -> None:
        free = _write_lock_free(db_url, "w-dead", lost_job.id)
        seen.append((lost_job.id, free, store.claim("w-live")))

    [rec] = recover_stale(store, LONG_LEASE, policy, kill)
    assert seen == [(job.id, True, None)]  # the lock free, the job not claimable
    assert (rec.job_id, rec.worker, rec.new_state) == (job.id, "w-dead", State.FAILED)
    assert "w-dead" not in {w.id for w in store.list_workers()}


def test_a_job_ended_between_the_decision_and_the_hand_back_is_left_as_it_is(
    store: Storage,
) -> None:
    """hand_back judges again under its lock: what its worker finished meanwhile (a worker
    taken for dead that was not) keeps its end."""
    job = _dead_worker_holding(store, "w-dead", "j-done")
    lost = store.find_lost(LONG_LEASE)
    assert [j.id for j in lost.jobs] == [job.id]
    store.finish(job, "w-dead", OK, after_attempt(job, OK, policy))
    assert store.hand_back(lost, [after_attempt(j, OK, policy) for j in lost.jobs]) == []
    done = store.get_job(job.id)
    assert done is not None and done.state is State.COMPLETED
