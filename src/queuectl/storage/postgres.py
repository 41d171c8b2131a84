"""The shared store: one PostgreSQL database for workers and CLIs on any number of machines.

Same contract and semantics as the SQLite store (the flow of each call is
storage/sql_store.py's), with these differences of means:
- "now" is the database's clock (queuectl_now_ms() in SQL), so hosts with skewed clocks
  agree on what is due and on which worker is lost; Python never passes a time in, unless
  the store was given a clock of its own (tests: time moved on, never slept out).
- A claim is one UPDATE over a ``FOR UPDATE SKIP LOCKED`` sub-select: concurrent claimers
  pass over each other's rows instead of waiting or taking the same job.
- Wake-ups are NOTIFY on one channel, sent inside the transaction that made the work
  (so they arrive only once it is committed); a pool LISTENs on one connection.
- The server counts every connection against max_connections: a pool's workers share a
  few (``gate``, pool/gate.py), each opening its connection on demand and closing it when
  it will not need it awhile (release_connection).
- A broken connection (server restart, network) raises StoreUnavailable; the next call
  reconnects, so the worker's retry loop rides out an outage. Every driver error is mapped
  in one place (storage/faults.py): an outage, or a bad request.
- The worker's claim and finish are one statement each (server-side functions: see
  sql/postgres/schema.sql), and a finish that also claims the next job is one too: one
  round trip per job. An enqueue is one statement too, whatever the number of jobs.
- Counts per state come from deltas kept by triggers (job_counts), not from scanning
  the jobs: `status` costs the same at a million finished jobs as at ten.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from queuectl.errors import StoreUnavailable
from queuectl.models import IdlePlan, Job, JobSpec, State, to_ms
from queuectl.settings import redact_url
from queuectl.storage import dependencies
from queuectl.storage.base import ConnectionGate, Listener, WakeSource
from queuectl.storage.faults import postgres_fault
from queuectl.storage.pgconn import CHANNEL, Conn, Wakeups, connect, migrate, scrub
from queuectl.storage.rows import CLAIMED_COLUMNS, claimed_job, idle_plan, job_from_row
from queuectl.storage.sql import queries
from queuectl.storage.sql_clock import SqlClock
from queuectl.storage.sql_cron import SqlCron
from queuectl.storage.sql_queues import SqlQueues
from queuectl.storage.sql_snapshots import SqlSnapshots
from queuectl.storage.sql_store import gives_more
from queuectl.storage.sql_workers import SqlWorkers
from queuectl.transitions import Transition

TYPE_CHECKING = False  # Params is a name for annotations only
if TYPE_CHECKING:
    from queuectl.storage.sql_store import Params

# Rows folded at once beyond which job_counts is vacuumed at once: a million jobs inserted
# in final states (an import) leave a million dead deltas, which every count would read.
VACUUM_AFTER_FOLD = 50_000
# Deltas left unfolded: summing a thousand rows costs a count less than a write would (and a
# `status` that writes nothing waits on no disk flush).
FOLD_MIN_ROWS = 1_000


class PostgresStorage(SqlWorkers[Conn], SqlCron[Conn], SqlQueues[Conn], SqlClock[Conn],
                      SqlSnapshots[Conn]):
    _q = queries("postgres")
    _duplicate_error = pg_errors.UniqueViolation
    server_connections = True

    def __init__(
        self, url: str, *, durable: bool = True, create: bool = True,
        clock: Callable[[], float] | None = None, gate: ConnectionGate | None = None,
    ) -> None:
        """Connect to ``url`` (postgresql://user:pw@host:port/db) and migrate if needed
        (``create``: also into a database that has no queuectl schema yet; see migrate).

        ``durable``: each commit waits until its WAL is flushed to disk (the server's
        ``synchronous_commit``), so a job the CLI enqueued survives a server crash.
        ``durable=False`` (workers) sets ``synchronous_commit = off`` on this connection:
        a commit returns before the flush (the server flushes within ~3 x wal_writer_delay),
        so claims and finishes no longer wait on the disk. What a server crash can lose then
        is the last fraction of a second of them: a finished job comes back as processing
        and is recovered and run again, a claim is undone and the job is claimed again.
        Jobs are already at-least-once (a worker may die mid-job), so this adds no new
        outcome; and nothing is corrupted (the WAL stays consistent, only shorter).

        ``clock``: "now" for this store's calls (epoch seconds), read before each call and
        set on its connection (one more statement per call); None: the database's clock.

        ``gate``: a pool's worker's share of the pool's connections (pool/gate.py), taken
        before each connect and given back when the connection closes. With a gate the
        store connects on its first call, not here, and migrates nothing (the pool checked
        the store before it forked its workers): a server that refuses connections now
        fails that call, which the worker retries, rather than the worker's start.
        """
        self._url = url
        self._given_clock = clock
        self._durable = durable
        self.display_url = redact_url(url)
        # One connection per store; the lock keeps two threads' transactions apart on it.
        self._lock = threading.RLock()
        self._conn: Conn | None = None
        self._wakeups: list[Wakeups] = []
        self._gate = gate
        if gate is not None:
            return
        with self._lock:
            conn = self._connection()
            try:
                migrate(conn, self.display_url, create=create)
            except psycopg.Error as exc:
                self.close()
                raise StoreUnavailable(
                    f"cannot prepare {self.display_url}: {scrub(str(exc), url)}"
                ) from None
            except BaseException:
                self.close()
                raise

    # --- connection and transactions ---------------------------------------------------

    def _connect(self) -> Conn:
        return connect(self._url, self.display_url, durable=self._durable)

    def _open(self) -> Conn:
        """A new connection, within the gate's share if there is one. A refusal for the
        server's connection limit is said by one worker of the pool (the others' errors are
        quiet: see StoreUnavailable.quiet)."""
        if self._gate is None:
            return self._connect()
        self._gate.acquire()
        try:
            conn = self._connect()
        except StoreUnavailable as exc:
            self._gate.release()
            if exc.server_full and not self._gate.refused():
                exc.quiet = True
            raise
        except BaseException:
            self._gate.release()
            raise
        self._gate.opened()
        return conn

    def _connection(self) -> Conn:
        """The live connection, reconnecting after a drop; dropped listeners come back too."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._discard()
            conn = self._conn = self._open()
        for wakeups in self._wakeups:
            if wakeups.dropped:
                wakeups.revive()
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()
            if self._gate is not None:
                self._gate.release()

    def release_connection(self) -> None:
        with self._lock:
            self._discard()

    @contextmanager
    def _db(self) -> Iterator[Conn]:
        """The connection for one call, driver errors turned into ours. It is in
        autocommit: a statement outside a transaction block is its own transaction."""
        with self._lock:
            conn = self._connection()
            try:
                if self._given_clock is not None:
                    now = int(self._given_clock() * 1000)
                    conn.execute(self._q["pg_set_clock"], {"now": str(now)})
                yield conn
            except psycopg.Error as exc:
                if conn.closed or conn.broken:
                    self._discard()  # the next call reconnects
                detail = scrub(str(exc), self._url)
                raise postgres_fault(exc, self.display_url, detail) from None

    def _reading(self) -> AbstractContextManager[Conn]:
        return self._db()

    def _write_statement(self) -> AbstractContextManager[Conn]:
        return self._db()  # one statement, its own transaction: no BEGIN/COMMIT round trips

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        with self._db() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        self._fold_counts()  # a few rows to sum, whether or not workers ran lately
        with self._write() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _clock(self) -> Params:
        return {}  # the SQL reads the database's clock

    def _list(self, values: Sequence[str | int]) -> Any:
        return list(values)

    def _edges(self, edges: Sequence[tuple[str, str, int, str]]) -> Params:
        return {"job_ids": [e[0] for e in edges], "depends_on": [e[1] for e in edges],
                "positions": [e[2] for e in edges],
                "kinds": [e[3] for e in edges]}  # unnest reads them side by side

    def _jobs(self, conn: Conn, name: str, params: Params) -> list[Job]:
        cur = conn.cursor(row_factory=dict_row)
        return [job_from_row(row) for row in cur.execute(self._q[name], params)]

    def _mappings(self, conn: Conn, name: str, params: Params) -> Sequence[Mapping[str, Any]]:
        return conn.cursor(row_factory=dict_row).execute(self._q[name], params).fetchall()

    def _wake(self, conn: Conn, event: str, worker_ids: Sequence[str] = ()) -> None:
        """Delivered on commit only, to every listener, and folded with repeats in the same
        transaction."""
        conn.execute(self._q["pg_notify"], {"channel": CHANNEL, "event": event})

    def close(self) -> None:
        with self._lock:
            for wakeups in self._wakeups:
                wakeups.close()
            self._wakeups.clear()
            self._discard()

    @classmethod
    def pool_wakeups(cls, url: str) -> WakeSource:
        from queuectl.storage.pgconn import PoolWakeups

        return PoolWakeups(url)

    @classmethod
    def log_identity(cls, url: str) -> tuple[str, str]:
        """The database's name; the database, whoever connects and however (a password
        given or not, a port written or the default: one store)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        identity = f"{parts.username}@{parts.hostname}:{parts.port or 5432}{parts.path}"
        return parts.path.strip("/") or "postgres", identity

    def listener(self, worker_id: str) -> Listener:
        with self._lock:
            wakeups = Wakeups(self._connect)
            self._wakeups.append(wakeups)

        def close() -> None:
            with self._lock:
                if wakeups in self._wakeups:
                    self._wakeups.remove(wakeups)
            wakeups.close()

        return Listener(wakeups.fd, wakeups.drain, close)

    # --- what differs from SQLite ----------------------------------------------------------

    def _insert_jobs(self, specs: Sequence[JobSpec], ids: list[str]) -> int:
        """One statement, one array per column (it notifies the idle workers itself)."""
        params = {**_columns(specs, ids), "channel": CHANNEL}
        if dependencies.any_after(specs) or any(
                spec.run_at_fixed or gives_more(spec) or spec.frozen for spec in specs):
            with self._write() as conn:
                row = conn.execute(self._q["insert_job"], params).fetchone()
                if dependencies.any_after(specs):
                    self._record_dependencies(conn, specs, ids)
                self._mark_run_at_fixed(conn, specs, ids)
                self._mark_given(conn, specs, ids)
                self._store_snapshots(conn, specs, ids)
        else:
            with self._db() as conn:  # one statement: its own transaction
                row = conn.execute(self._q["insert_job"], params).fetchone()
        assert row is not None and row[1] == len(ids)
        return int(row[0])

    def _execute_many(self, conn: Conn, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """One statement per row, pipelined (psycopg's executemany)."""
        with conn.cursor() as cursor:
            cursor.executemany(self._q[name], rows)

    def _lock_snapshots(self, conn: Conn, *, shared: bool) -> None:
        conn.execute(self._q["pg_snapshot_lock_shared" if shared else "pg_snapshot_lock"])

    def _unique_params(self, specs: Sequence[JobSpec], ids: list[str]) -> Params:
        """insert_job's arrays, and one of unique keys."""
        return {**_columns(specs, ids), "unique_key": [s.unique_key for s in specs]}

    def _given_params(self, given: Sequence[tuple[str, JobSpec]]) -> Params:
        """mark_given's arrays, one per column."""
        return {"id": [job_id for job_id, _ in given],
                "rerun_of": [spec.rerun_of for _, spec in given],
                "held": [spec.held for _, spec in given],
                "tags": [json.dumps(list(spec.tags)) if spec.tags else None
                         for _, spec in given],
                "mutex": [spec.mutex for _, spec in given],
                "success_exit": [_codes(spec.success_exit) for _, spec in given],
                "no_retry_exit": [_codes(spec.no_retry_exit) for _, spec in given],
                "deadline": [spec.deadline for _, spec in given],
                "expires_at": [None if spec.expires_at is None else to_ms(spec.expires_at)
                               for _, spec in given],
                "gpus": [spec.gpus for _, spec in given]}

    def _claim_in(
        self, conn: Conn, worker_id: str, queues: Sequence[str] | None, clock: Params
    ) -> Job | IdlePlan:
        """One statement: its one row is the claimed job, or NULLs and the plan."""
        params = {"worker": worker_id, "queues": list(queues) if queues else None}
        [row] = conn.execute(self._q["claim_queues" if queues else "claim_any"], params)
        return _plan(row[PLAN]) if row[0] is None else claimed_job(row[:PLAN])

    def _plan_in(self, conn: Conn, queues: Sequence[str] | None, clock: Params) -> IdlePlan:
        [row] = self._mappings(conn, "next_due", {"queues": list(queues) if queues else None})
        return _plan(row["plan"])

    def _end_attempt(
        self, conn: Conn, job: Job, params: Params, step: Transition,
        claim_queues: Sequence[str] | None, wake: bool,
    ) -> tuple[Job | None, Job | IdlePlan | None]:
        """One statement (queuectl_finish): its rows are the finished job (absent when the
        guard failed) and the next one claimed, which alone is 'processing'; with a claim
        that took nothing, the finished job's row carries the plan."""
        params = {**params, "claim": claim_queues is not None, "queues": list(claim_queues or []),
                  "notify": CHANNEL if wake else None}
        done: Job | None = None
        nxt: Job | IdlePlan | None = None
        for row in conn.execute(self._q["finish_job"], params):
            found = claimed_job(row[:PLAN])
            if found.state is State.PROCESSING:
                nxt = found
            else:
                done = found
                if row[PLAN] is not None:
                    nxt = _plan(row[PLAN])
        return done, nxt

    def _lock_gpus(self, conn: Conn, host: str) -> None:
        """The host's GPU lock, waited for (see the gpus table in schema.sql)."""
        conn.execute(self._q["pg_gpus_lock"], {"host": host})

    def _anything_lost(self, lease_ms: int | None, clock: Params) -> bool:
        """Always worth a look under the locks, which take no store-wide lock here. Every
        worker calls this every few seconds: the housekeeping of the state counts rides
        along (its own short statement, apart from the recovery's transaction)."""
        self._fold_counts()
        return True

    def _lost_workers(
        self, conn: Conn, lease_ms: int | None, clock: Params
    ) -> tuple[list[str], list[str]]:
        """Judged, then locked and judged again on their latest version: see
        pg_lock_lost_workers."""
        dead, silent = self._judge(conn, lease_ms, clock)
        if not dead and not silent:
            return dead, silent
        params = {"dead": dead, "silent": silent, "lease_ms": lease_ms}
        locked = {row[0] for row in conn.execute(self._q["pg_lock_lost_workers"], params)}
        return [w for w in dead if w in locked], [w for w in silent if w in locked]

    def _fold_counts(self) -> None:
        """Fold the state counts' deltas (job_counts) into one row per state."""
        with self._db() as conn:
            row = conn.execute(self._q["pg_fold_counts"], {"min_rows": FOLD_MIN_ROWS}).fetchone()
            assert row is not None
            if int(row[0]) >= VACUUM_AFTER_FOLD:
                conn.execute(self._q["pg_vacuum_counts"], prepare=False)  # a utility statement


PLAN = len(CLAIMED_COLUMNS)  # the claim's and the finish's rows: the job's columns, then the plan


def _plan(plan: Mapping[str, Any]) -> IdlePlan:
    """queuectl_idle_plan's answer (a JSON object, see schema.sql) as the worker's plan."""
    return idle_plan(plan["due_ms"], plan["tick_ms"])


def _columns(specs: Sequence[JobSpec], ids: list[str]) -> Params:
    """A batch as one array per column, as insert_job unnests them."""
    return {
        "id": ids, "command": [s.command for s in specs],
        "max_retries": [s.max_retries for s in specs], "priority": [s.priority for s in specs],
        "timeout": [s.timeout for s in specs], "queue": [s.queue for s in specs],
        "cwd": [s.cwd for s in specs],
        "env": [json.dumps(s.env) if s.env else None for s in specs],
        "run_at": [to_ms(s.run_at) if s.run_at else None for s in specs],
    }


def _codes(codes: Sequence[int | str]) -> str | None:
    """An exit-code list column: a JSON array, NULL when empty."""
    return json.dumps(list(codes)) if codes else None
