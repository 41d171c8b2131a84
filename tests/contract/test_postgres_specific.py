"""What only the PostgreSQL store has: migrations raced by many processes, SKIP LOCKED
claims, LISTEN/NOTIFY wake-ups, riding out lost connections, and passwords kept out of
every message."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest

from queuectl.errors import JobNeeded, StoreUnavailable
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
from queuectl.retry import after_failure
from queuectl.storage import open_store
from queuectl.storage.base import Listener, Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.storage.postgres import PostgresStorage
from queuectl.storage.sql import migrations
from queuectl.transitions import after_attempt
from tests import pg
from tests.helpers import QUEUECTL, Cli

pytestmark = pytest.mark.postgres

WAKE_WAIT = 10.0  # seconds: generous; we assert that the wake comes, not how fast
OK = AttemptResult(Outcome.SUCCEEDED, 0, None, b"done\n")


def policy(job: Job):  # type: ignore[no-untyped-def]
    return after_failure(job.attempts, job.max_retries, 2, 3600)


@pytest.fixture
def url() -> Iterator[str]:
    yield from pg.fresh_url()


@pytest.fixture
def raw_url() -> Iterator[str]:
    """A new, empty database: nothing migrated yet."""
    yield from pg.fresh_url(migrated=False)


@pytest.fixture
def pstore(url: str) -> Iterator[PostgresStorage]:
    s = PostgresStorage(url)
    yield s
    s.close()


def register(store: Storage, worker_id: str) -> str:
    now = utcnow()
    store.register_worker(WorkerInfo(worker_id, HOST_ID, os.getpid(), "idle", None, now, now))
    return worker_id


def wait_wake(listener: Listener, want: str) -> set[str]:
    """Select on the listener as the worker does, until ``want`` is among the payloads."""
    seen: set[str] = set()
    deadline = time.monotonic() + WAKE_WAIT
    while want not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([listener.fileno()], [], [], deadline - time.monotonic())
        if ready:
            seen |= listener.drain()
    assert want in seen, f"no {want!r} wake-up; got {seen}"
    return seen


def terminate_backends(url: str) -> int:
    """What a server restart does to clients: every connection to the database dies."""
    dbname = url.rsplit("/", 1)[1]
    with pg.admin() as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,),
        ).fetchone()
    assert row is not None
    return int(row[0])


# --- migrations ------------------------------------------------------------------------------

OPEN_AT = """
import sys, time
from queuectl.storage.postgres import PostgresStorage
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
PostgresStorage(sys.argv[1]).close()
"""


def test_many_processes_migrating_a_fresh_database_at_once(raw_url: str) -> None:
    url = raw_url
    start = time.time() + 2.0  # once every interpreter has imported psycopg
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, url, str(start)],
                         stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM queuectl_schema").fetchall()
    assert rows == [(migrations("postgres")[-1][0],)]
    s = PostgresStorage(url)  # and the store works
    assert [j.id for j in s.enqueue([JobSpec("true", id="j", max_retries=0)])] == ["j"]
    s.close()


def test_a_database_with_a_foreign_jobs_table_is_refused(raw_url: str) -> None:
    url = raw_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE jobs (x int)")
    with pytest.raises(StoreUnavailable, match="not queuectl's"):
        PostgresStorage(url)


def test_a_reader_names_what_a_database_without_our_tables_lacks(raw_url: str) -> None:
    """A database that exists is not "no store": the message says the tables are missing
    and how to create them, and the reader leaves the database as it was."""
    with pytest.raises(StoreUnavailable) as refused:
        open_store(raw_url, create=False)
    assert str(refused.value) == (
        f"the database {raw_url} exists but has no queuectl tables: run `queuectl init` or "
        "any command that writes (enqueue, worker start) to create them")
    with psycopg.connect(raw_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


# --- claims ---------------------------------------------------------------------------------


def test_eight_concurrent_claimers_never_take_the_same_job(url: str, pstore: Storage) -> None:
    total = 240
    pstore.enqueue([JobSpec("true", max_retries=0, priority=i % 3) for i in range(total)])
    taken: dict[str, list[str]] = {}
    barrier = threading.Barrier(8)

    def claimer(n: int) -> None:
        store = PostgresStorage(url)  # a connection each, as separate workers have
        worker = register(store, f"w{n}")
        mine = taken.setdefault(worker, [])
        barrier.wait()
        while (job := store.claim(worker)) is not None:
            mine.append(job.id)
            store.finish(job, worker, OK, after_attempt(job, OK, policy))
        store.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [job_id for mine in taken.values() for job_id in mine]
    assert len(ids) == total and len(set(ids)) == total
    assert sum(1 for mine in taken.values() if mine) > 1  # they really did share the work
    assert pstore.stats().counts["completed"] == total
    for job_id in ids[:20]:
        assert [a.number for a in pstore.attempts(job_id)] == [1]


# --- wake-ups --------------------------------------------------------------------------------


def _plan_reads(store: PostgresStorage, call: Callable[[], object]) -> tuple[object, int]:
    """(what ``call`` returned, how many times it ran queuectl_idle_plan), counted by the
    server: pg_stat_xact_user_functions, which holds this backend's counts not yet
    reported, read just before and just after the call."""
    conn = store._connection()
    conn.execute("SET track_functions = 'all'")
    count = ("SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
             "WHERE funcname = 'queuectl_idle_plan'")
    with conn.transaction():
        before = conn.execute(count).fetchone()
        found = call()
        after = conn.execute(count).fetchone()
    assert before is not None and after is not None
    return found, int(after[0]) - int(before[0])


def test_the_plan_is_read_only_by_a_claim_that_takes_nothing(pstore: PostgresStorage) -> None:
    """The plan rides in the claim's statement (a CASE branch): a claim that takes a job,
    the worker's hot path, never reads it; one that takes nothing reads it once."""
    assert isinstance(pstore, PostgresStorage)
    register(pstore, "w")
    pstore.enqueue([JobSpec(command="true", id=i, max_retries=0) for i in ("a", "b")])
    first, reads = _plan_reads(pstore, lambda: pstore.claim_or_plan("w"))
    assert isinstance(first, Job) and reads == 0
    step = after_attempt(first, OK, policy)
    ended, reads = _plan_reads(pstore, lambda: pstore.finish_and_claim(first, "w", OK, step))
    assert isinstance(ended, tuple) and isinstance(ended[1], Job) and reads == 0
    second = ended[1]
    step = after_attempt(second, OK, policy)
    ended, reads = _plan_reads(pstore, lambda: pstore.finish_and_claim(second, "w", OK, step))
    assert isinstance(ended, tuple) and ended[1] == IdlePlan(None, None) and reads == 1
    plan, reads = _plan_reads(pstore, lambda: pstore.claim_or_plan("w", ["q"]))
    assert plan == IdlePlan(None, None) and reads == 1


def test_a_column_added_by_another_session_leaves_the_claim_and_finish_working(
    url: str, pstore: PostgresStorage
) -> None:
    """The claim's and the finish's rows name the job's columns (read by position). A
    session that ran them before another session added a column to jobs (a newer
    queuectl's migration) keeps its row type of jobs; the columns it names still read."""
    register(pstore, "w")
    pstore.enqueue([JobSpec(command="true", id=i, max_retries=0, priority=p)
                    for i, p in (("a", 3), ("b", 2), ("c", 1))])
    first = pstore.claim("w")
    assert first is not None and first.id == "a"
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("ALTER TABLE jobs ADD COLUMN added_later text")
    done, nxt = pstore.finish_and_claim(first, "w", OK, after_attempt(first, OK, policy))
    assert done is not None and done.state is State.COMPLETED
    assert isinstance(nxt, Job) and nxt == pstore.get_job("b")
    third = pstore.claim("w")
    assert third is not None and third == pstore.get_job("c")


def test_listener_wakes_on_enqueue_stop_and_cancel(url: str, pstore: Storage) -> None:
    worker = register(pstore, "w1")
    listener = pstore.listener(worker)
    other = PostgresStorage(url)  # another process, maybe another host
    try:
        assert listener.drain() == set()
        other.enqueue([JobSpec("sleep 1", id="a", max_retries=0)])
        wait_wake(listener, "work")
        assert pstore.claim(worker) is not None
        other.cancel(["a"])
        wait_wake(listener, "cancel")
        other.request_stop()
        wait_wake(listener, "stop")
    finally:
        listener.close()
        other.close()


def test_a_retry_due_now_wakes_idle_workers(url: str, pstore: Storage) -> None:
    worker = register(pstore, "w1")
    pstore.enqueue([JobSpec("false", id="a", max_retries=1)])
    job = pstore.claim(worker)
    assert job is not None
    listener = pstore.listener(worker)
    try:
        failing = AttemptResult(Outcome.FAILED, 1, "exit code 1")
        pstore.finish(job, worker, failing,
                      after_attempt(job, failing, lambda j: after_failure(j.attempts, 1, 1, 0.001)))
        wait_wake(listener, "work")
    finally:
        listener.close()


# --- connection loss -------------------------------------------------------------------------


def test_store_and_listener_come_back_after_their_connections_are_killed(
    url: str, pstore: Storage
) -> None:
    worker = register(pstore, "w1")
    pstore.enqueue([JobSpec("true", id="a", max_retries=0)])
    job = pstore.claim(worker)
    assert job is not None
    listener = pstore.listener(worker)
    try:
        assert terminate_backends(url) >= 2
        # The job ends during the outage: the first try meets the dead connection, the
        # next reconnects and records it (what the worker's retry loop does). Whether the
        # server's own word (57P01) reaches the client before the closed socket does depends
        # on the driver: psycopg 3.2.1 reports only "consuming input failed".
        with pytest.raises(StoreUnavailable,
                           match="ended the connection|the connection to the store was lost"):
            pstore.finish(job, worker, OK, after_attempt(job, OK, policy))
        done = pstore.finish(job, worker, OK, after_attempt(job, OK, policy))
        assert done.state == State.COMPLETED
        assert pstore.read_output("a") is not None
        # The dead LISTEN connection reads as ready; draining re-listens and says "work".
        wait_wake(listener, "work")
        other = PostgresStorage(url)
        other.enqueue([JobSpec("true", id="b", max_retries=0)])
        other.close()
        wait_wake(listener, "work")
        claimed = pstore.claim(worker)
        assert claimed is not None and claimed.id == "b"
    finally:
        listener.close()


def test_a_running_worker_rides_out_killed_connections(url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli = Cli(url, tmp_path / "home", cwd=tmp_path)
    try:
        cli.ok("config", "set", "lease-timeout", "5")
        cli.start_workers(1)
        first = cli.enqueue("echo one")
        cli.wait_state(first, "completed")
        terminate_backends(url)
        second = cli.enqueue("echo two")
        job = cli.wait_state(second, "completed", timeout=30)
        assert job["attempts"] == 1
        assert cli.ok("logs", second) == "two\n"
        # Connections die while a job runs: its end is recorded once they are back.
        third = cli.enqueue("sleep 3; echo three")  # long enough to be seen running
        cli.wait_state(third, "processing")
        terminate_backends(url)
        job = cli.wait_state(third, "completed", timeout=30)
        assert [a["outcome"] for a in job["attempts_log"]] == ["succeeded"]
        assert cli.ok("logs", third) == "three\n"
    finally:
        cli.cleanup()


# --- secrets ---------------------------------------------------------------------------------

SECRET_URL = "postgresql://u:secretpw@127.0.0.1:1/x"


def test_unreachable_server_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as err:
        PostgresStorage(SECRET_URL)
    text = str(err.value)
    assert "secretpw" not in text
    assert text.startswith("cannot connect to postgresql://u:***@127.0.0.1:1/x: ")


@pytest.mark.parametrize("url", [
    SECRET_URL,
    "postgresql://u:secretpw@127.0.0.1:1/x?password=secretpw",  # twice
    "postgresql://u:secretpw@[zz/x",  # not even parseable: libpq echoes it back
    "postgresql://u:secretpw@127.0.0.1:5432/x?connect_timeout=abc",  # refused by libpq
])
def test_cli_shows_one_line_and_no_password(url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "QUEUECTL_HOME": str(tmp_path)}
    for args in (["status"], ["enqueue", "-c", "true"], ["worker", "start"]):
        proc = subprocess.run([QUEUECTL, "--db", url, *args], capture_output=True, text=True,
                              env=env, timeout=30)
        assert proc.returncode == 1, proc.stderr
        assert "secretpw" not in proc.stderr + proc.stdout
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("queuectl: error: cannot connect to"), lines


def test_a_client_clock_running_ahead_changes_nothing(
    pstore: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's clock is "now": a host whose clock is an hour fast neither claims a job due in
    half an hour nor stamps jobs with its own time."""
    with pg.admin() as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    server_now = row[0]
    run_at = server_now + timedelta(minutes=30)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    worker = register(pstore, "fast-clock")
    [job] = pstore.enqueue([JobSpec("true", max_retries=0, run_at=run_at)])
    [now_job] = pstore.enqueue([JobSpec("true", max_retries=0)])
    assert abs((now_job.created_at - server_now).total_seconds()) < 60
    claimed = pstore.claim(worker)
    assert claimed is not None and claimed.id == now_job.id
    assert pstore.claim(worker) is None
    due = pstore.seconds_until_due()
    assert due is not None and 1700 < due <= 1800


@pytest.mark.parametrize("delete", ["purge", "retention", "remove"])
def test_deleting_a_dead_job_never_strands_a_dependent_enqueued_meanwhile(
    url: str, pstore: Storage, delete: str
) -> None:
    """An enqueue that makes dead job A a dependency and a purge (retention batch, remove) of A,
    at once: A's row lock orders them, and whichever goes first, no job may be left waiting
    on a job that is gone (the purge judged A unneeded from a snapshot older than the lock it
    waited for, and deleted it under its new dependent)."""
    [a] = pstore.enqueue([JobSpec(command="exit 1", id="A", max_retries=0)])
    worker = register(pstore, "w")
    claimed = pstore.claim(worker)
    assert claimed is not None
    failed = AttemptResult(Outcome.FAILED, 1, "exit code 1")
    pstore.finish(claimed, worker, failed, after_attempt(claimed, failed, policy))
    holder = psycopg.connect(url)  # an enqueue's lock_dependencies, as a long one
    holder.execute("SELECT 1 FROM jobs WHERE id = 'A' FOR NO KEY UPDATE")
    results: dict[str, object] = {}

    def enqueue_b() -> None:
        store = PostgresStorage(url)
        try:
            results["b"] = store.enqueue([JobSpec(command="true", id="B", after=("A",),
                                                  max_retries=0)])
        except Exception as exc:  # noqa: BLE001 - refused: A was gone first
            results["b"] = exc
        finally:
            store.close()

    def delete_a() -> None:
        store = PostgresStorage(url)
        try:
            if delete == "purge":
                results["deleted"] = store.purge([State.DEAD], 0)
            elif delete == "remove":
                try:
                    results["deleted"] = store.remove(["A"])
                except JobNeeded as exc:  # B came first and waits for A
                    results["deleted"] = exc
            else:
                results["deleted"] = store.prune_finished(0, 50)
        finally:
            store.close()

    first = threading.Thread(target=enqueue_b)
    first.start()
    time.sleep(0.5)  # the enqueue waits on A's lock first (either order must hold, though)
    second = threading.Thread(target=delete_a)
    second.start()
    time.sleep(0.5)
    holder.commit()
    holder.close()
    first.join(30)
    second.join(30)
    b = pstore.get_job("B")
    if pstore.get_job("A") is None:
        assert b is None, f"B waits for a job that is gone ({results})"
    else:
        assert b is not None and b.waiting_for == ("A",)
