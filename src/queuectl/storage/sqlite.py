"""The embedded store: one SQLite file in WAL mode, shared by every local process.

Writes take the write lock up front (BEGIN IMMEDIATE) so that two writers never deadlock
upgrading a read lock, and hold it for one short transaction. A busy timeout turns
contention into waiting instead of "database is locked". Idle workers are woken by a
datagram on an abstract Unix socket named after the store and the worker
(storage/sqlite_wakeups.py), so pickup takes well under a millisecond without polling.
"Now" is this process's clock, passed to every statement that needs it. The flow of each
call is storage/sql_store.py's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from queuectl.errors import StoreUnavailable
from queuectl.models import IdlePlan, Job, JobSpec, State, replaced_job, to_ms
from queuectl.storage import dependencies
from queuectl.storage.base import Listener, WakeSource
from queuectl.storage.rows import claimed_job, idle_plan, job_from_row, ms
from queuectl.storage.sql import queries
from queuectl.storage.sql_clock import SqlClock
from queuectl.storage.sql_cron import SqlCron
from queuectl.storage.sql_queues import SqlQueues
from queuectl.storage.sql_snapshots import SqlSnapshots
from queuectl.storage.sql_workers import SqlWorkers
from queuectl.storage.sqlite_file import (
    BUSY_TIMEOUT_OFF,
    BUSY_TIMEOUT_ON,
    begin_immediate,
    open_file,
)
from queuectl.storage.sqlite_wakeups import DatagramWakeups, bind, receive, wake_prefix

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    import socket
    from typing import Any, ClassVar

    from queuectl.storage.sql_store import Params
    from queuectl.transitions import Transition

Db = sqlite3.Connection


class SQLiteStorage(SqlWorkers[Db], SqlCron[Db], SqlQueues[Db], SqlClock[Db],
                    SqlSnapshots[Db]):
    _q = queries("sqlite")
    _duplicate_error = sqlite3.IntegrityError
    wants_checkpoints: ClassVar[bool] = True  # see checkpoint

    @classmethod
    def pool_wakeups(cls, url: str) -> WakeSource:
        from queuectl.settings import sqlite_path

        return DatagramWakeups(sqlite_path(url))

    @classmethod
    def log_identity(cls, url: str) -> tuple[str, str]:
        """The file's name without its extension; its real path."""
        from queuectl.settings import sqlite_path

        identity = os.path.realpath(sqlite_path(url))
        return os.path.splitext(os.path.basename(identity))[0], identity

    def __init__(
        self, path: str, *, durable: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        """Open (creating if needed) the store at ``path``.

        ``durable``: commits are fsynced (synchronous=FULL) so that a job survives a power
        cut once ``enqueue`` returns. Workers pass False (synchronous=NORMAL): losing their
        last commits to a power cut only re-runs a job, which at-least-once allows, and the
        WAL stays consistent either way.
        """
        self.path = path
        self.display_url = path
        self._time = clock
        self._wake_prefix = wake_prefix(path)
        self._sock: socket.socket | None = None
        self._db, self._wal = open_file(path, durable)
        self._busy_wait = True  # SQLite's busy timeout is on (off while we poll for the lock)
        self._wal_seen: tuple[int, int] | None = None  # the WAL's size and mtime at checkpoint
        self._wal_frames = 0  # frames in the WAL at the last checkpoint
        # Wake-ups asked for in the open transaction: (payload, worker ids; None: idle ones,
        # but never the worker named third, which is awake: it made the write).
        self._wakes: list[tuple[bytes, Sequence[str] | None, str | None]] = []

    # --- connection and transactions ---------------------------------------------------

    def _now(self) -> int:
        return int(self._time() * 1000)

    def _clock(self) -> Params:
        return {"now": self._now()}

    def _list(self, values: Sequence[str | int]) -> Any:
        return json.dumps(list(values))  # read back by json_each

    def _edges(self, edges: Sequence[tuple[str, str, int, str]]) -> Params:
        return {"edges": json.dumps(edges)}  # one array of rows: one json_each pass

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection for reads, with SQLite's busy timeout in force."""
        if not self._busy_wait:
            self._db.execute(BUSY_TIMEOUT_ON)
            self._busy_wait = True
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction holding the write lock from its start.

        The busy timeout is switched off for the lock (see sqlite_file.begin_immediate) and left off
        until the next read: a worker's job boundaries are back-to-back writes, and the two
        PRAGMAs per transaction cost a measurable share of its CPU per job (bench/RESULTS.md).
        Holding the lock in WAL mode, no statement of the transaction waits for another
        connection; a rollback journal's COMMIT waits for readers, so there it is back on.

        The driver's errors come out as ours (storage/faults.py). A statement or COMMIT that
        fails (a full disk) rolls the transaction back, so the write lock is never kept.
        Wake-ups are sent once the COMMIT is done.
        """
        conn = self._db
        self._wakes.clear()
        try:
            if self._busy_wait:
                conn.execute(BUSY_TIMEOUT_OFF)
                self._busy_wait = False
            begin_immediate(conn)
            try:
                yield conn if self._wal else self._conn
                conn.execute("COMMIT")
            except BaseException:
                self._wakes.clear()
                if conn.in_transaction:
                    with suppress(sqlite3.Error):  # what failed is what is worth saying
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            from queuectl.storage.faults import sqlite_fault  # only a failure needs it

            raise sqlite_fault(exc, self.path) from None
        wakes, self._wakes = self._wakes, []
        for payload, worker_ids, but in wakes:
            self._send(payload, worker_ids, but)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The read connection, the driver's errors turned into ours."""
        try:
            yield self._conn
        except sqlite3.Error as exc:
            from queuectl.storage.faults import sqlite_fault  # only a failure needs it

            raise sqlite_fault(exc, self.path) from None

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as conn:
            conn.execute("BEGIN")  # a read transaction: one snapshot for every read
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _jobs(self, conn: sqlite3.Connection, name: str, params: Params) -> list[Job]:
        # A dict per row: sqlite3.Row finds a name by comparing it with each column's in
        # turn, and job_from_row reads 21 of them (~3 µs of a worker's CPU per claim).
        cursor = conn.execute(self._q[name], params)
        names = [column[0] for column in cursor.description]
        return [job_from_row(dict(zip(names, row, strict=True))) for row in cursor]

    # --- wake-ups ------------------------------------------------------------------------

    def _wake(self, conn: sqlite3.Connection, event: str, worker_ids: Sequence[str] = (),
              but: str | None = None) -> None:
        wake = (event.encode(), None if event in ("work", "config") else worker_ids, but)
        if wake not in self._wakes:
            self._wakes.append(wake)

    def _send(self, payload: bytes, worker_ids: Sequence[str] | None, but: str | None) -> None:
        """Best effort: a worker that misses a datagram still polls now and then. None: the
        idle workers ("work") or every worker ("config"), a hint, so a store that fails to
        say who they are changes nothing (the write is done; the workers poll now and
        then). A pool hears its workers' addresses itself and wakes one of them
        (pool/relay.py), so a datagram to each idle worker costs its pool one wake-up.
        ``but``: a worker never sent "work" (the one whose finish asks: it reads as idle,
        and may be on its way out)."""
        if worker_ids is None:
            every = payload == b"config"
            try:
                rows = self._read("all_workers" if every else "idle_workers", self._clock())
            except StoreUnavailable:
                return
            worker_ids = [row[0] for row in rows if row[0] != but]
        self._datagrams(payload, worker_ids)

    def _datagrams(self, payload: bytes, worker_ids: Sequence[str]) -> None:
        if not worker_ids:
            return
        if self._sock is None:
            import socket  # a command that wakes no worker (no pool, or a read) never needs it

            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        for worker_id in worker_ids:
            with suppress(OSError):  # gone, or its buffer is full: it is awake anyway
                self._sock.sendto(payload, self._wake_prefix + worker_id.encode())

    def listener(self, worker_id: str) -> Listener:
        sock = bind(self._wake_prefix, worker_id)
        return Listener(sock.fileno(), lambda: receive(sock), sock.close)

    def checkpoint(self) -> int:
        """A PASSIVE checkpoint (it neither waits for nor blocks readers and writers), when
        the WAL has changed since the last one: see sqlite_file.WAL_AUTOCHECKPOINT."""
        if not self._wal:
            return 0
        try:
            st = os.stat(self.path + "-wal")
        except FileNotFoundError:  # no connection is open, or the last one folded it in
            return 0
        except OSError as exc:
            raise StoreUnavailable(f"cannot checkpoint {self.path}: {exc.strerror}") from None
        seen = (st.st_size, st.st_mtime_ns)
        if seen == self._wal_seen:
            return 0
        with self._reading() as conn:
            frames: int = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        self._wal_seen = seen  # the checkpoint itself leaves the WAL file as it was
        # Frames count from the WAL's start, which a writer rewinds to once all is folded in.
        new = frames - self._wal_frames if frames >= self._wal_frames else frames
        self._wal_frames = frames
        return max(new, 1)  # the file changed: something was written

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with suppress(sqlite3.Error):
            self._db.close()

    # --- what differs from PostgreSQL --------------------------------------------------------

    def _insert_jobs(self, specs: Sequence[JobSpec], ids: list[str]) -> int:
        now = self._now()
        rows = [
            (job_id, spec.command, spec.max_retries, spec.priority, spec.timeout, spec.queue,
             spec.cwd, json.dumps(spec.env) if spec.env else None,
             to_ms(spec.run_at) if spec.run_at else now)
            for spec, job_id in zip(specs, ids, strict=True)
        ]
        # UTF-8 as it is (ensure_ascii would escape it only for SQLite to decode it again).
        batch = json.dumps(rows, ensure_ascii=False)
        with self._write() as conn:
            conn.execute(self._q["insert_job"], {"rows": batch, "now": now})
            if dependencies.any_after(specs):
                self._record_dependencies(conn, specs, ids)
            self._mark_run_at_fixed(conn, specs, ids)
            self._mark_given(conn, specs, ids)
            self._store_snapshots(conn, specs, ids)
            self._wake(conn, "work")
        return now

    def _unique_params(self, specs: Sequence[JobSpec], ids: list[str]) -> Params:
        """insert_job's rows with the unique key as a tenth element."""
        now = self._now()
        rows = [
            (job_id, spec.command, spec.max_retries, spec.priority, spec.timeout, spec.queue,
             spec.cwd, json.dumps(spec.env) if spec.env else None,
             to_ms(spec.run_at) if spec.run_at else now, spec.unique_key)
            for spec, job_id in zip(specs, ids, strict=True)
        ]
        return {"rows": json.dumps(rows, ensure_ascii=False), "now": now}

    def _given_params(self, given: Sequence[tuple[str, JobSpec]]) -> Params:
        """mark_given's rows: [id, rerun_of, held, tags, mutex, success_exit, no_retry_exit,
        deadline, expires_at, gpus] each, as one JSON array."""
        rows = [(job_id, spec.rerun_of, int(spec.held), list(spec.tags) or None, spec.mutex,
                 list(spec.success_exit) or None, list(spec.no_retry_exit) or None,
                 spec.deadline, None if spec.expires_at is None else to_ms(spec.expires_at),
                 spec.gpus)
                for job_id, spec in given]
        return {"rows": json.dumps(rows, ensure_ascii=False)}

    def _claim_in(
        self, conn: sqlite3.Connection, worker_id: str, queues: Sequence[str] | None,
        clock: Params,
    ) -> Job | IdlePlan:
        """The claim's UPDATE, then (nothing taken) next_due under the same write lock."""
        params = {"worker": worker_id, **clock}
        if queues:
            params["queues"] = self._list(queues)
        row = conn.execute(self._q["claim_queues" if queues else "claim_any"], params).fetchone()
        return claimed_job(row) if row else self._plan_in(conn, queues, clock)

    def _plan_in(
        self, conn: sqlite3.Connection, queues: Sequence[str] | None, clock: Params
    ) -> IdlePlan:
        params = {"queues": self._list(queues) if queues else None, **clock}
        due_ms, tick_ms, reopen_ms, windows_ms = conn.execute(
            self._q["next_due"], params).fetchone()
        if reopen_ms is not None and (due_ms is None or reopen_ms < due_ms):
            due_ms = reopen_ms  # a rated or windowed queue's jobs may start then
        if windows_ms is not None and (tick_ms is None or windows_ms < tick_ms):
            tick_ms = windows_ms  # housekeeping works out a window's next stretch then
        return idle_plan(due_ms, tick_ms)

    def _end_attempt(
        self, conn: sqlite3.Connection, job: Job, params: Params, step: Transition,
        claim_queues: Sequence[str] | None, wake: bool,
    ) -> tuple[Job | None, Job | IdlePlan | None]:
        """Two statements (record the attempt, then move the job) in the caller's
        transaction; the finished job is built from the claimed one, not read back."""
        conn.execute(self._q["record_attempt"], params)
        held = conn.execute(self._q["finish_job"], params).fetchone()
        nxt: Job | IdlePlan | None = None
        if claim_queues is not None:  # (the worker's own row is not written: all_workers)
            nxt = self._claim_in(conn, params["worker"], claim_queues, {"now": params["now"]})
        # A place freed in a limited queue that this worker does not fill itself (a job
        # cancelled while it ran frees one too: its attempt has just closed).
        limited = held[1] if held is not None else conn.execute(
            self._q["queue_limited"], {"name": job.queue}).fetchone()
        freed = bool(limited) and not (isinstance(nxt, Job) and nxt.queue == job.queue)
        # GPUs freed: a GPU job may wait for them (the end of the attempt frees them).
        freed = freed or job.gpus_assigned is not None
        # A mutex freed (a job waiting for it may be due now): another worker may take it. A
        # job cancelled while it ran (the guard failed) frees its mutex now, as its attempt
        # closes: read on that rare path only.
        if held is not None:
            freed = freed or bool(held[2])
        elif wake and not freed:
            found = self._jobs(conn, "get_job", {"id": job.id})
            freed = bool(found) and found[0].state is State.CANCELLED \
                and found[0].mutex is not None
        if held is None:
            if wake and freed:
                self._wake(conn, "work", but=params["worker"])
            return None, nxt
        # Back in the queue, or completed with dependents that it may have released (the
        # release trigger, see schema.sql), or a freed place: idle workers claim them, or
        # re-plan their sleep.
        released = step.state is State.COMPLETED and bool(held[0])
        if wake and (step.back_in_queue or released or freed):
            self._wake(conn, "work", but=params["worker"])
        # The guard matched (this worker's run of a processing job), so the row is the job
        # as claimed plus what finish_job wrote.
        now = params["now"]
        stamp = ms(now)
        done = replaced_job(
            job, state=step.state, attempts=step.attempts,
            run_at=job.run_at if step.delay_ms is None else ms(now + step.delay_ms),
            finished_at=stamp, updated_at=stamp, exit_code=params["exit_code"],
            last_error=step.error,
        )
        return done, nxt

    def _anything_lost(self, lease_ms: int | None, clock: Params) -> bool:
        """A read without the write lock, which every worker would otherwise take every
        few seconds; the recovery judges again under it."""
        with self._reading() as conn:
            dead, silent = self._judge(conn, lease_ms, clock)
            if dead or silent:
                return True
            params = self._held_params(dead, silent, lease_ms, clock)
            return conn.execute(self._q["held_jobs"], params).fetchone() is not None

