"""A store written by the previous version opens, upgrades, and keeps what it held: here the
change that stopped keeping a worker's state in its row and writes an attempt's row when it
ends (PostgreSQL migration 0004; SQLite needed none). Workers of the previous version may
still be running beside the new one: what they call must keep working."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

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
        # Their heartbeats are from 1970: lost, whatever job they hold.
        workers = {w.id: (w.state, w.current_job) for w in store.list_workers()}
        assert workers == {"w-busy": ("lost", "run"), "w-idle": ("lost", None)}
        assert [j.id for j in store.list_jobs()] == ["wait", "run"]
        assert store.claim("w-idle").id == "wait"  # type: ignore[union-attr]
        assert {w.id: w.current_job for w in store.list_workers()} == {
            "w-busy": "run", "w-idle": "wait"}
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
                     " heartbeat_at) VALUES ('w-old', 'h', 1, '[]', 'idle', 0, 0)")
        [claimed] = conn.execute("SELECT id, runs, run_at, started_at"
                                 " FROM queuectl_claim('w-old', NULL)").fetchall()
        rows = conn.execute(
            "SELECT id, state FROM queuectl_finish('wait', 'w-old', 1, 'completed', 1, NULL,"
            " 0, 'succeeded', NULL, NULL, 'out'::bytea, 0, false, '{}', NULL)").fetchall()
        attempt = conn.execute("SELECT number, worker, run_at, started_at, outcome, output"
                               " FROM attempts WHERE job_id = 'wait'").fetchall()
    assert claimed[:2] == ("wait", 1)
    assert rows == [("wait", "completed")]
    assert attempt == [(1, "w-old", claimed[2], claimed[3], "succeeded", b"out")]
