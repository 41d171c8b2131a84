"""The work of enqueueing a job after many others grows with their number, not its square.

An enqueue with dependencies holds the store's write lock (SQLite) or the dependencies'
row locks (PostgreSQL) while it records them, so a statement that visits every edge once
per edge (two tables joined without an index) stalls every other writer for minutes at
tens of thousands of dependencies. No timing here: the store's own count of the work is
read, for N and for 2N dependencies, and must about double, never quadruple:
- SQLite: the virtual machine's instructions (a progress handler called every few);
- PostgreSQL: the rows every plan node produced or filtered out, over all its loops
  (each statement of the enqueue is also run under EXPLAIN ANALYZE, then undone).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from queuectl.models import JobSpec
from queuectl.storage.base import Storage
from queuectl.storage.sqlite import SQLiteStorage

SMALL = 150  # dependencies; the large batch has twice as many
LINEAR = 2.6  # at most this many times the work for twice the dependencies (a square: 4)
STEP = 20  # SQLite instructions per progress callback


def spec(**kw: Any) -> JobSpec:
    return JobSpec("true", max_retries=0, **kw)


@contextlib.contextmanager
def sqlite_work(store: SQLiteStorage) -> Iterator[Callable[[], int]]:
    """Count the instructions SQLite runs for the store meanwhile."""
    conn: sqlite3.Connection = store._db  # noqa: SLF001
    count = [0]

    def tick() -> int:
        count[0] += STEP
        return 0  # go on

    conn.set_progress_handler(tick, STEP)
    try:
        yield lambda: count[0]
    finally:
        conn.set_progress_handler(None, 0)


def _plan_rows(node: dict[str, Any]) -> int:
    loops = int(node.get("Actual Loops", 0))
    rows = int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
    rows += int(node.get("Rows Removed by Join Filter", 0))
    own = (rows + 1) * loops
    return own + sum(_plan_rows(child) for child in node.get("Plans", ()))


@contextlib.contextmanager
def postgres_work(store: Storage) -> Iterator[Callable[[], int]]:
    """Count the rows PostgreSQL's plans handle for the store's statements meanwhile that
    run inside a transaction (those of an enqueue with dependencies)."""
    import psycopg
    from psycopg.pq import TransactionStatus

    real = psycopg.Cursor.execute
    count = [0]

    def execute(self: psycopg.Cursor[Any], query: Any, params: Any = None,
                **kw: Any) -> psycopg.Cursor[Any]:
        text = str(query).strip()
        in_transaction = self.connection.info.transaction_status == TransactionStatus.INTRANS
        if in_transaction and not text.upper().startswith(("SAVEPOINT", "ROLLBACK", "RELEASE")):
            real(self, "SAVEPOINT queuectl_work")
            [[plan]] = real(self, "EXPLAIN (ANALYZE, FORMAT JSON) " + text, params).fetchall()
            real(self, "ROLLBACK TO SAVEPOINT queuectl_work")
            count[0] += _plan_rows(plan[0]["Plan"])
        return real(self, query, params, **kw)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign, assignment]
    try:
        yield lambda: count[0]
    finally:
        psycopg.Cursor.execute = real  # type: ignore[method-assign]


def work_of_one_job_after(store: Storage, n: int) -> int:
    ids = store.enqueue_ids([spec() for _ in range(n)])
    counting = sqlite_work(store) if isinstance(store, SQLiteStorage) else postgres_work(store)
    with counting as count:
        [job] = store.enqueue([spec(after=tuple(ids))])
    assert len(job.after) == n and set(job.waiting_for) == set(ids)
    return count()


def test_work_of_recording_dependencies_grows_linearly(store: Storage) -> None:
    small = work_of_one_job_after(store, SMALL)
    large = work_of_one_job_after(store, 2 * SMALL)
    assert large <= LINEAR * small, (small, large)
