"""A store written by a previous version opens, upgrades, and keeps what it held: the change
that stopped keeping a worker's state in its row and writes an attempt's row when it ends
(PostgreSQL migration 0004; SQLite needed none), and the rename of jobs.runs to
jobs.last_attempt (PostgreSQL 0006, SQLite 0003). Workers of the previous version may
still be running beside the new one: what they call must keep working."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from queuectl.models import AttemptResult, Outcome, State
from queuectl.retry import after_failure
from queuectl.storage import open_store
from queuectl.storage.sql import migrations
from tests import pg

# A worker that was running job "run" and one that was idle, in the old schema's columns.
OLD_ROWS = [
    "INSERT INTO jobs (id, command, state, max_retries, queue, cwd, run_at, created_at,"
    " updated_at, started_at, runs, worker)"
    " VALUES ('run', 'sleep 9', 'processing', 0, 'default', '/', 1, 1, 1, 1, 1, 'w-busy')",
    "INSERT INTO jobs (id, command, state, max_retries, queue, cwd, run_at, created_at,"
    " updated_at) VALUES ('wait', 'true', 'pending', 0, 'default', '/', 1, 1, 1)",
    "INSERT INTO workers (id, host, pid, queues, state, current_job, started_at, heartbeat_at)"
    " VALUES ('w-busy', 'h', 1, '[]', 'busy', 'run', 1, 1)",
    "INSERT INTO workers (id, host, pid, queues, state, current_job, started_at, heartbeat_at)"
    " VALUES ('w-idle', 'h', 2, '[]', 'idle', NULL, 2, 2)",
]


def _before(dialect: str, last: int) -> list[str]:
    return [sql for number, sql in migrations(dialect) if number <= last]


def _check_upgraded(url: str) -> None:
    store = open_store(url)
    try:
        workers = {w.id: (w.state, w.current_job) for w in store.list_workers()}
        assert workers == {"w-busy": ("busy", "run"), "w-idle": ("idle", None)}
        assert [j.id for j in store.list_jobs()] == ["wait", "run"]
        assert store.claim("w-idle").id == "wait"  # type: ignore[union-attr]
        assert {w.id: w.current_job for w in store.list_workers()} == {
            "w-busy": "run", "w-idle": "wait"}  # fmt: skip
    finally:
        store.close()


def test_sqlite_store_written_by_the_previous_version_reads_right(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for sql in _before("sqlite", 2):
        conn.executescript(sql)
    for row in OLD_ROWS:
        conn.execute(row)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    _check_upgraded(str(path))


@pytest.fixture
def raw_url() -> Iterator[str]:
    yield from pg.fresh_url(migrated=False)


def test_postgres_store_of_schema_3_upgrades(raw_url: str) -> None:
    with psycopg.connect(raw_url, autocommit=True) as conn:
        for sql in _before("postgres", 3):
            conn.execute(sql.encode())
        for row in OLD_ROWS:
            conn.execute(row.encode())
        conn.execute("CREATE TABLE queuectl_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO queuectl_schema (version) VALUES (3)")
    _check_upgraded(raw_url)


def test_a_previous_version_worker_still_records_its_attempts(raw_url: str) -> None:
    """Its queuectl_finish (0002's 15 parameters) now writes the attempt's row itself."""
    with psycopg.connect(raw_url, autocommit=True) as conn:
        for sql in _before("postgres", 3):
            conn.execute(sql.encode())
        conn.execute("CREATE TABLE queuectl_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO queuectl_schema (version) VALUES (3)")
        conn.execute(OLD_ROWS[1].encode())  # job 'wait', pending
    open_store(raw_url).close()  # the new version migrates
    with psycopg.connect(raw_url, autocommit=True) as conn:
        # Registered, as every worker is before it claims (a worker the store does not
        # know claims nothing).
        conn.execute("INSERT INTO workers (id, host, pid, queues, state, started_at,"
                     " heartbeat_at) VALUES ('w-old', 'h', 1, '[]', 'idle', 0, 0)")  # fmt: skip
        [claimed] = conn.execute("SELECT id, last_attempt, run_at, started_at"
                                 " FROM queuectl_claim('w-old', NULL)").fetchall()
        rows = conn.execute(
            "SELECT id, state FROM queuectl_finish('wait', 'w-old', 1, 'completed', 1, NULL,"
            " 0, 'succeeded', NULL, NULL, 'out'::bytea, 0, false, '{}', NULL)").fetchall()
        attempt = conn.execute("SELECT number, worker, run_at, started_at, outcome, output"
                               " FROM attempts WHERE job_id = 'wait'").fetchall()
    assert claimed[:2] == ("wait", 1)
    assert rows == [("wait", "completed")]
    assert attempt == [(1, "w-old", claimed[2], claimed[3], "succeeded", b"out")]


# A job running its third attempt (the first two ended), in the columns of the schema
# before jobs.runs became jobs.last_attempt.
RUNNING_THIRD = [
    "INSERT INTO jobs (id, command, state, attempts, runs, max_retries, queue, cwd, run_at,"
    " created_at, updated_at, started_at, worker)"
    " VALUES ('third', 'true', 'processing', 2, 3, 5, 'default', '/', 1, 1, 1, 5, 'w-run')",
    "INSERT INTO attempts (job_id, number, worker, run_at, started_at, finished_at, outcome)"
    " VALUES ('third', 1, 'w-run', 1, 2, 3, 'failed'), ('third', 2, 'w-run', 1, 3, 4, 'failed')",
    "INSERT INTO workers (id, host, pid, queues, state, current_job, started_at, heartbeat_at)"
    " VALUES ('w-run', 'h', 1, '[]', 'busy', 'third', 1, 1)",
]


def _check_renamed(url: str) -> None:
    """The attempt number survives the rename: the log, the guard and the next claim."""
    store = open_store(url)
    try:
        job = store.get_job("third")
        assert job is not None and job.last_attempt == 3
        assert [a.number for a in store.attempts("third")] == [1, 2, 3]
        assert not store.check_in("w-run", job).job_lost
        done = store.finish(job, "w-run", AttemptResult(Outcome.SUCCEEDED, exit_code=0),
                            lambda j: after_failure(j.attempts, j.max_retries, 2, 3600))
        assert (done.state, done.last_attempt) == (State.COMPLETED, 3)
        assert [(a.number, a.outcome) for a in store.attempts("third")][-1] == (
            3, Outcome.SUCCEEDED)  # fmt: skip
    finally:
        store.close()


def test_sqlite_store_before_last_attempt_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for sql in _before("sqlite", 2):
        conn.executescript(sql)
    for row in RUNNING_THIRD:
        conn.execute(row)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    _check_renamed(str(path))


def test_postgres_store_before_last_attempt_upgrades(raw_url: str) -> None:
    with psycopg.connect(raw_url, autocommit=True) as conn:
        for sql in _before("postgres", 5):
            conn.execute(sql.encode())
        for row in RUNNING_THIRD:
            conn.execute(row.encode())
        conn.execute("CREATE TABLE queuectl_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO queuectl_schema (version) VALUES (5)")
    _check_renamed(raw_url)
