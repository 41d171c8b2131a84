"""Fill a store to the scale figure's size fast, in SQL: finished jobs (each with its
attempt) and a pending backlog scheduled for later, so idle workers stay idle while the
table and its indexes hold the whole backlog."""

from __future__ import annotations

import time

from queuectl.settings import is_postgres, sqlite_path
from queuectl.storage import open_store

DAY_MS = 86_400_000

_JOB_COLUMNS = (
    "id, command, state, attempts, runs, max_retries, priority, queue, cwd, "
    "run_at, created_at, updated_at, started_at, finished_at, exit_code, worker"
)


def seed(url: str, finished: int, pending: int, command: str = "'true'") -> float:
    """Seconds it took to add the rows. ``command``: the finished jobs' command, an SQL
    expression that may use ``n`` (the job's number, from 1)."""
    open_store(url).close()  # create the schema through queuectl itself
    start = time.monotonic()
    now = int(time.time() * 1000)
    if is_postgres(url):
        _seed_postgres(url, finished, pending, now, command)
    else:
        _seed_sqlite(sqlite_path(url), finished, pending, now, command)
    return time.monotonic() - start


def _seed_sqlite(path: str, finished: int, pending: int, now: int, command: str) -> None:
    import sqlite3

    series = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < :count) "
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        f"{series} INSERT INTO jobs ({_JOB_COLUMNS}) "
        f"SELECT 'done-' || n, {command}, 'completed', 1, 1, 3, 0, 'seeded', '/', :t0 + n, "
        ":t0 + n, :t0 + n, :t0 + n, :t0 + n + 2, 0, 'seed-worker' FROM c",
        {"count": finished, "t0": now - 3_600_000},
    )
    conn.execute(
        "INSERT INTO attempts (job_id, number, worker, run_at, started_at, finished_at, "
        "exit_code, outcome, output, output_dropped) "
        "SELECT id, 1, worker, run_at, started_at, finished_at, 0, 'succeeded', x'', 0 "
        "FROM jobs WHERE queue = 'seeded'"
    )
    conn.execute(
        f"{series} INSERT INTO jobs ({_JOB_COLUMNS}) "
        "SELECT 'later-' || n, 'true', 'pending', 0, 0, 3, 0, 'backlog', '/', :later, "
        ":now, :now, NULL, NULL, NULL, NULL FROM c",
        {"count": pending, "now": now, "later": now + DAY_MS},
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def _seed_postgres(url: str, finished: int, pending: int, now: int, command: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        ts = _pg_time(conn)
        conn.execute(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) "
            f"SELECT 'done-' || n, {command}, 'completed', 1, 1, 3, 0, 'seeded', '/', "
            f"{ts('n')}, {ts('n')}, {ts('n')}, {ts('n')}, {ts('n + 2')}, 0, 'seed-worker' "
            "FROM generate_series(1, %(finished)s) AS n",
            {"finished": finished, "now": now},
        )
        conn.execute(
            "INSERT INTO attempts (job_id, number, worker, run_at, started_at, finished_at, "
            "exit_code, outcome) SELECT id, 1, worker, run_at, started_at, finished_at, 0, "
            "'succeeded' FROM jobs WHERE queue = 'seeded'"
        )
        later = ts(f"{DAY_MS} + 3600000")
        conn.execute(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) "
            f"SELECT 'later-' || n, 'true', 'pending', 0, 0, 3, 0, 'backlog', '/', "
            f"{later}, {ts('0')}, {ts('0')}, NULL, NULL, NULL, NULL "
            "FROM generate_series(1, %(pending)s) AS n",
            {"pending": pending, "now": now},
        )
        conn.execute("VACUUM ANALYZE")


def _pg_time(conn: object):  # type: ignore[no-untyped-def]
    """SQL for 'now - 1h + offset ms' in the column type the store uses (ms or timestamptz)."""
    kind = conn.execute(  # type: ignore[attr-defined]
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'jobs' AND column_name = 'run_at'"
    ).fetchone()[0]
    if "timestamp" in kind:
        return lambda off: f"to_timestamp((%(now)s - 3600000 + {off}) / 1000.0)"
    return lambda off: f"(%(now)s - 3600000 + {off})"
