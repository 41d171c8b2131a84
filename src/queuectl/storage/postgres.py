"""The shared store: one PostgreSQL database for workers and CLIs on any number of machines.

Same contract and semantics as the SQLite store, with these differences of means:
- "now" is the database's clock (queuectl_now_ms() in SQL), so hosts with skewed clocks
  agree on what is due and on which worker is lost; Python never passes a time in.
- A claim is one UPDATE over a ``FOR UPDATE SKIP LOCKED`` sub-select: concurrent claimers
  pass over each other's rows instead of waiting or taking the same job.
- Wake-ups are NOTIFY on one channel, sent inside the transaction that made the work
  (so they arrive only once it is committed); each worker LISTENs on its own connection.
- A broken connection (server restart, network) raises StoreUnavailable; the next call
  reconnects, so the worker's retry loop rides out an outage. Every driver error is mapped
  in one place (storage/faults.py): an outage, or a bad request.
- The worker's claim and finish are one statement each (server-side functions, migration
  0002), and a finish that also claims the next job is one too: one round trip per job.
  An enqueue is one statement too, whatever the number of jobs.
- Counts per state come from deltas kept by triggers (migration 0003), not from scanning
  the jobs: `status` costs the same at a million finished jobs as at ten.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from queuectl.errors import (
    DuplicateJob,
    DuplicateSchedule,
    InvalidValue,
    JobNotFound,
    LostLease,
    ScheduleNotFound,
    StoreUnavailable,
    WrongState,
)
from queuectl.ids import new_job_id
from queuectl.models import (
    FINAL_STATES,
    WORKER_LOST_ERROR,
    Attempt,
    AttemptResult,
    CheckIn,
    Job,
    JobSpec,
    Outcome,
    Output,
    State,
    WorkerInfo,
    to_ms,
)
from queuectl.recurring import Cron, CronSpec
from queuectl.settings import Config, redact_url
from queuectl.storage import cron_flow, liveness
from queuectl.storage.base import (
    AttemptRow,
    Listener,
    Recovered,
    Stats,
    Storage,
)
from queuectl.storage.faults import postgres_fault
from queuectl.storage.pgconn import CHANNEL, Conn, Wakeups, connect, migrate, scrub
from queuectl.storage.rows import (
    attempt_from_row,
    check_in_from_row,
    check_in_params,
    claimed_attempt,
    finished_attempt_from_row,
    job_from_row,
    worker_from_row,
)
from queuectl.storage.rows import ms as _ms
from queuectl.storage.sql import queries
from queuectl.transitions import FailurePolicy, after_attempt

Q = queries("postgres")
# Rows folded at once beyond which job_counts is vacuumed at once: a million jobs inserted
# in final states (an import) leave a million dead deltas, 10-40 ms of reading per count.
VACUUM_AFTER_FOLD = 50_000
# Deltas left unfolded: summing a thousand rows costs a count less than a write would (and a
# `status` that writes nothing waits on no disk flush).
FOLD_MIN_ROWS = 1_000


class PostgresStorage(Storage):
    def __init__(self, url: str, *, durable: bool = True, create: bool = True) -> None:
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
        """
        self._url = url
        self._durable = durable
        self.display_url = redact_url(url)
        # One connection per store; the lock keeps two threads' transactions apart on it.
        self._lock = threading.RLock()
        self._conn: Conn | None = None
        self._wakeups: list[Wakeups] = []
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

    # --- plumbing --------------------------------------------------------------------

    def _connect(self) -> Conn:
        return connect(self._url, self.display_url, durable=self._durable)

    def _connection(self) -> Conn:
        """The live connection, reconnecting after a loss; lost listeners come back too."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._discard()
            conn = self._conn = self._connect()
        for wakeups in self._wakeups:
            if wakeups.lost:
                wakeups.revive()
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()

    @contextmanager
    def _db(self) -> Iterator[Conn]:
        """The connection for one call, driver errors turned into ours."""
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except psycopg.Error as exc:
                if conn.closed or conn.broken:
                    self._discard()  # the next call reconnects
                detail = scrub(str(exc), self._url)
                raise postgres_fault(exc, self.display_url, detail) from None

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        """One transaction; rolled back if the block raises."""
        with self._db() as conn, conn.transaction():
            yield conn

    @staticmethod
    def _notify(conn: Conn, payload: str) -> None:
        """Delivered on commit only, and folded with repeats in the same transaction."""
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    @staticmethod
    def _one_job(conn: Conn, sql: str, params: dict[str, Any]) -> Job | None:
        row = conn.cursor(row_factory=dict_row).execute(sql, params).fetchone()
        return job_from_row(row) if row else None

    def _read(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._db() as conn:
            return conn.execute(sql, params or {}).fetchall()

    def close(self) -> None:
        with self._lock:
            for wakeups in self._wakeups:
                wakeups.close()
            self._wakeups.clear()
            self._discard()

    # --- jobs ------------------------------------------------------------------------

    def enqueue(self, specs: Sequence[JobSpec]) -> list[Job]:
        ids, params, now = self._insert_batch(specs)
        if now is None:
            return []
        # Every other column is what we wrote or its default (queuectl_claim etc. change
        # them later): the rows need not travel back.
        return [
            Job(id=job_id, command=spec.command, state=State.PENDING, attempts=0,
                max_retries=max_retries, priority=spec.priority, timeout=spec.timeout,
                queue=spec.queue, run_at=_ms(run_at) if run_at is not None else now,
                created_at=now, updated_at=now, cwd=spec.cwd, env=spec.env or None, last_attempt=0)
            for spec, job_id, max_retries, run_at in zip(
                specs, ids, params["max_retries"], params["run_at"], strict=True)
        ]  # fmt: skip

    def enqueue_ids(self, specs: Sequence[JobSpec]) -> list[str]:
        return self._insert_batch(specs)[0]

    def _insert_batch(
        self, specs: Sequence[JobSpec]
    ) -> tuple[list[str], dict[str, Any], datetime | None]:
        """(ids, insert_job's parameters, the database's now; None for no specs)."""
        for _ in range(3):  # a generated id may (astronomically rarely) collide: redraw
            ids = [spec.id or new_job_id() for spec in specs]
            try:
                params, now = self._insert(specs, ids)
                return ids, params, now
            except DuplicateJob as dup:
                if any(spec.id == dup.job_id for spec in specs):
                    raise
        raise StoreUnavailable("could not draw a unique job id")

    def _insert(
        self, specs: Sequence[JobSpec], ids: list[str]
    ) -> tuple[dict[str, Any], datetime | None]:
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen:
                raise DuplicateJob(job_id)
            seen.add(job_id)
        params = _batch_params(specs, ids)
        if not ids:
            return params, None
        try:
            with self._db() as conn:  # one statement: its own transaction
                row = conn.execute(Q["insert_job"], params).fetchone()
        except pg_errors.UniqueViolation:
            # Rolled back by now, so only jobs that existed before are found.
            raise DuplicateJob(self._first_existing(ids)) from None
        assert row is not None and row[1] == len(ids)
        return params, _ms(row[0])

    def _first_existing(self, ids: list[str]) -> str:
        with self._db() as conn:
            for job_id in ids:
                if conn.execute(Q["get_job"], {"id": job_id}).fetchone():
                    return job_id
        return ids[0]

    def get_job(self, job_id: str) -> Job | None:
        with self._db() as conn:
            return self._one_job(conn, Q["get_job"], {"id": job_id})

    def list_jobs(
        self,
        state: State | None = None,
        queue: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        id_contains: str | None = None,
        cron: str | None = None,
    ) -> list[Job]:
        params = {
            "state": str(state) if state else None, "queue": queue, "id_contains": id_contains,
            "limit": limit, "offset": offset, "cron": cron,
        }  # fmt: skip
        with self._db() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(Q["list_jobs"], params).fetchall()
        return [job_from_row(row) for row in rows]

    def attempts(self, job_id: str) -> list[Attempt]:
        return [attempt_from_row(row) for row in self._read(Q["attempts"], {"id": job_id})]

    def stats(self) -> Stats:
        lease_ms = int(liveness.lease_seconds(self.config_items()) * 1000)
        self._fold_counts()  # a few rows to sum, whether or not workers ran lately
        with self._tx() as conn:
            # One snapshot for all three reads.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            counts = {str(s): 0 for s in State}
            counts.update({row[0]: int(row[1]) for row in conn.execute(Q["count_states"])})
            scheduled = _scalar(conn.execute(Q["count_scheduled"]).fetchone())
            row = conn.execute(Q["count_workers"], {"lease_ms": lease_ms}).fetchone()
        assert row is not None
        return Stats(counts, scheduled, int(row[0]), int(row[1]))

    def _fold_counts(self) -> None:
        """Fold the state counts' deltas (migration 0003) into one row per state."""
        with self._db() as conn:
            row = conn.execute(Q["pg_fold_counts"], {"min_rows": FOLD_MIN_ROWS}).fetchone()
            folded = _scalar(row)
            if folded >= VACUUM_AFTER_FOLD:
                conn.execute(Q["pg_vacuum_counts"], prepare=False)  # a utility statement

    # --- the worker's side -----------------------------------------------------------

    def claim(self, worker_id: str, queues: Sequence[str] | None = None) -> Job | None:
        params: dict[str, Any] = {"worker": worker_id, "queues": list(queues or [])}
        # One statement (autocommit: its own transaction) takes the job; its attempt's row
        # is written when the attempt ends (migrations/0004).
        with self._db() as conn:
            return self._one_job(conn, Q["claim_queues" if queues else "claim_any"], params)

    def seconds_until_due(self, queues: Sequence[str] | None = None) -> float | None:
        [(delta_ms,)] = self._read(Q["next_due"], {"queues": list(queues) if queues else None})
        return None if delta_ms is None else max(0.0, delta_ms / 1000)

    def finish(self, job: Job, worker_id: str, result: AttemptResult, policy: FailurePolicy) -> Job:
        done, _ = self._finish(job, worker_id, result, policy, None)
        if done is None:
            raise LostLease(f"job {job.id!r} is no longer held by worker {worker_id}")
        return done

    def finish_and_claim(
        self, job: Job, worker_id: str, result: AttemptResult, policy: FailurePolicy,
        queues: Sequence[str] | None = None,
    ) -> tuple[Job | None, Job | None]:  # fmt: skip
        """One statement, so one round trip and one commit per job boundary."""
        return self._finish(job, worker_id, result, policy, list(queues or []))

    def _finish(
        self, job: Job, worker_id: str, result: AttemptResult, policy: FailurePolicy,
        claim_queues: list[str] | None,
    ) -> tuple[Job | None, Job | None]:  # fmt: skip
        """Finish the attempt; with ``claim_queues`` (None: don't) claim the next job too."""
        step = after_attempt(job, result, policy)
        params = {
            **claimed_attempt(job), "worker": worker_id, "state": str(step.state),
            "attempts": step.attempts, "delay_ms": step.delay_ms,
            "exit_code": result.exit_code, "outcome": str(result.outcome),
            "attempt_error": result.error, "error": step.error, "output": result.output,
            "dropped": result.output_dropped, "claim": claim_queues is not None,
            "queues": claim_queues or [], "notify": CHANNEL,
        }  # fmt: skip
        with self._db() as conn:
            return _finished_and_next(conn, params)

    def save_output(self, job_id: str, attempt: int, data: bytes, dropped: int) -> None:
        with self._db() as conn:
            conn.execute(
                Q["save_output"],
                {"id": job_id, "number": attempt, "output": data, "dropped": dropped},
            )

    def read_output(self, job_id: str, attempt: int | None = None) -> Output | None:
        rows = self._read(Q["read_output"], {"id": job_id, "number": attempt})
        if not rows:
            return None
        number, data, dropped, finished = rows[0]
        return Output(job_id, number, bytes(data or b""), int(dropped), bool(finished))

    def register_worker(self, info: WorkerInfo) -> None:
        with self._db() as conn:
            conn.execute(
                Q["insert_worker"],
                {"id": info.id, "host": info.host, "pid": info.pid,
                 "queues": json.dumps(info.queues)},
            )  # fmt: skip

    def unregister_worker(self, worker_id: str) -> None:
        with self._db() as conn:
            conn.execute(Q["delete_worker"], {"id": worker_id})

    def heartbeat(self, worker_id: str, job: Job | None) -> CheckIn:
        [row] = self._read(Q["heartbeat"], check_in_params(worker_id, job))
        return check_in_from_row(row, job)

    def check_in(self, worker_id: str, job: Job | None) -> CheckIn:
        [row] = self._read(Q["check_in"], check_in_params(worker_id, job))
        return check_in_from_row(row, job)

    def recover_stale(
        self, lease_timeout: float, policy: FailurePolicy,
        before_handback: Callable[[Job], None] | None = None, *, judge_silence: bool = True,
    ) -> list[Recovered]:  # fmt: skip
        # Every worker calls this every few seconds: the housekeeping of the state counts
        # rides along (its own short statement, apart from the recovery transaction).
        self._fold_counts()
        lease_ms = int(lease_timeout * 1000) if judge_silence else None
        vitals = self._read(Q["vitals"], {"lease_ms": lease_ms})
        cutoff = vitals[0][4] if vitals else None
        dead, silent = liveness.lost_workers((row[:4] for row in vitals), cutoff)
        params: dict[str, Any] = {"dead": dead, "silent": silent, "lease_ms": lease_ms}
        recovered: list[Recovered] = []
        with self._tx() as conn:
            if dead or silent:  # judged again on the locked rows: see pg_lock_lost_workers
                locked = {row[0] for row in conn.execute(Q["pg_lock_lost_workers"], params)}
                params.update(dead=[w for w in dead if w in locked],
                              silent=[w for w in silent if w in locked])  # fmt: skip
            cur = conn.cursor(row_factory=dict_row)
            for row in cur.execute(Q["held_jobs"], params).fetchall():
                job = job_from_row(row)
                if before_handback is not None:
                    before_handback(job)  # the row is locked: nobody claims it meanwhile
                done = self._recover(conn, job, policy)
                if done is not None:
                    recovered.append(done)
            if lost := params["dead"] + params["silent"]:
                conn.execute(Q["close_orphan_attempts"], {"lost": lost})
                conn.execute(Q["delete_workers"], {"lost": lost})
            if recovered:
                self._notify(conn, "work")
        return recovered

    def _recover(self, conn: Conn, job: Job, policy: FailurePolicy) -> Recovered | None:
        result = AttemptResult(Outcome.WORKER_LOST, error=WORKER_LOST_ERROR)
        step = after_attempt(job, result, policy)
        # The caller notifies once for all recovered jobs; the lost worker's row goes.
        params: dict[str, Any] = {
            **claimed_attempt(job), "worker": job.worker, "state": str(step.state),
            "attempts": step.attempts, "delay_ms": step.delay_ms, "exit_code": None,
            "outcome": str(result.outcome), "attempt_error": step.error, "error": step.error,
            "output": None, "dropped": None, "claim": False, "queues": [], "notify": None,
        }  # fmt: skip
        done, _ = _finished_and_next(conn, params)
        return Recovered(job.id, job.worker, step.state) if done is not None else None

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

    # --- user operations -------------------------------------------------------------

    def cancel(self, job_ids: Sequence[str]) -> list[Job]:
        done: list[Job] = []
        with self._tx() as conn:
            for job_id in job_ids:
                conn.execute(Q["keep_running_attempt"], {"id": job_id})
                job = self._one_job(conn, Q["cancel_job"], {"id": job_id})
                if job is None:
                    raise self._refusal(conn, job_id, "pending, failed or processing")
                done.append(job)
            if any(job.worker and job.started_at for job in done):
                self._notify(conn, "cancel")
        return done

    def _refusal(self, conn: Conn, job_id: str, wanted: str) -> Exception:
        job = self._one_job(conn, Q["get_job"], {"id": job_id})
        if job is None:
            return JobNotFound(job_id)
        return WrongState(job_id, str(job.state), wanted)

    def retry_dead(self, job_ids: Sequence[str] | None) -> list[Job]:
        done: list[Job] = []
        with self._tx() as conn:
            if job_ids is None:
                job_ids = [row[0] for row in conn.execute(Q["dead_ids"])]
            for job_id in job_ids:
                job = self._one_job(conn, Q["retry_dead"], {"id": job_id})
                if job is None:
                    raise self._refusal(conn, job_id, "dead")
                done.append(job)
            if done:
                self._notify(conn, "work")
        return done

    def purge(self, states: Sequence[State], older_than: float) -> int:
        final = [str(s) for s in states if s in FINAL_STATES]
        params = {"states": final, "older_ms": int(older_than * 1000)}
        with self._tx() as conn:
            conn.execute(Q["purge_attempts"], params)
            return conn.execute(Q["purge_jobs"], params).rowcount

    def request_stop(self) -> list[str]:
        with self._tx() as conn:
            ids = [row[0] for row in conn.execute(Q["request_stop"]).fetchall()]
            if ids:
                self._notify(conn, "stop")
        return ids

    def list_workers(self) -> list[WorkerInfo]:
        return self._workers()[0]

    def _workers(self) -> tuple[list[WorkerInfo], int]:
        """The workers and the database's now (ms), read together."""
        with self._db() as conn:
            rows = conn.execute(Q["all_workers"]).fetchall()
            if not rows:
                return [], 0
        workers = [worker_from_row(row) for row in rows]
        return workers, int(rows[0][8])

    def config_items(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self._read(Q["config_items"])}

    def config_set(self, key: str, value: str) -> None:
        with self._db() as conn:
            conn.execute(Q["config_set"], {"key": key, "value": value})

    def finished_attempts(self, since: datetime) -> list[AttemptRow]:
        return [
            finished_attempt_from_row(row)
            for row in self._read(Q["finished_attempts"], {"since": to_ms(since)})
        ]

    def dead_since(self, since: datetime) -> int:
        return _scalar(self._read(Q["dead_since"], {"since": to_ms(since)})[0])

    # --- recurring jobs (cron): the flow is cron_flow's; here, the transactions ----------

    @staticmethod
    def _cron_run(conn: Conn) -> cron_flow.Run:
        def run(name: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
            cur = conn.execute(Q[name], params)
            return cur.fetchone() if cur.description else None  # (a statement without rows)

        return run

    def _cron_rows(self, conn: Conn, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()

    def _now_ms(self, conn: Conn) -> int:
        return _scalar(conn.execute(Q["cron_now"]).fetchone())

    def cron_add(self, spec: CronSpec, replace: bool = False) -> Cron:
        with self._tx() as conn:
            params = cron_flow.upsert_params(spec, self._now_ms(conn), replace)
            if conn.execute(Q["cron_upsert"], params).fetchone() is None:
                raise DuplicateSchedule(spec.name)
            self._notify(conn, "work")
        return self.cron_get(spec.name)

    def cron_list(self, name: str | None = None) -> list[Cron]:
        with self._db() as conn:
            rows = self._cron_rows(conn, Q["cron_list"], {"name": name})
        return [cron_flow.cron_from_row(row) for row in rows]

    def cron_remove(self, name: str) -> None:
        with self._tx() as conn:
            if conn.execute(Q["cron_delete"], {"name": name}).fetchone() is None:
                raise ScheduleNotFound(name)
            conn.execute(Q["cron_delete_skipped"], {"name": name})
            self._notify(conn, "work")

    def cron_set_paused(self, name: str, paused: bool) -> Cron:
        with self._tx() as conn:
            rows = self._cron_rows(conn, Q["cron_list"], {"name": name})
            if not rows:
                raise ScheduleNotFound(name)
            params = cron_flow.paused_params(rows[0], paused, self._now_ms(conn))
            conn.execute(Q["cron_set_paused"], params)
            self._notify(conn, "work")
        return self.cron_get(name)

    def cron_run_now(self, name: str) -> Job:
        config = Config.from_stored(self.config_items())
        with self._tx() as conn:
            params = cron_flow.manual_job_params(name, self._now_ms(conn), config)
            if conn.execute(Q["cron_insert_job"], params).fetchone() is None:
                raise ScheduleNotFound(name)
            self._notify(conn, "work")
        job = self.get_job(params["id"])
        assert job is not None
        return job

    def cron_skipped(self, name: str, limit: int = 20) -> list[datetime]:
        rows = self._read(Q["cron_skipped"], {"name": name, "limit": limit})
        return cron_flow.skipped_from_rows(rows)

    def cron_seconds_until_tick(self) -> float | None:
        [(delta_ms,)] = self._read(Q["cron_next"])
        return cron_flow.seconds_until(delta_ms)

    def cron_fire(self) -> list[cron_flow.Fired]:
        with self._db() as conn:
            due = self._cron_rows(conn, Q["cron_due"], {})
        if not due:
            return []
        config = Config.from_stored(self.config_items())
        fired = []
        for row in due:  # one short transaction per schedule
            with self._tx() as conn:
                done = cron_flow.fire(row, config, self._cron_run(conn))
                if done is not None and done.job_id:
                    self._notify(conn, "work")
            if done is not None:
                fired.append(done)
        return fired


# --- helpers -------------------------------------------------------------------------------


def _batch_params(specs: Sequence[JobSpec], ids: list[str]) -> dict[str, Any]:
    """insert_job's parameters: one list per column."""
    for spec in specs:
        if spec.max_retries is None:
            raise InvalidValue("max_retries must be resolved before enqueue")
    return {
        "id": ids, "command": [s.command for s in specs],
        "max_retries": [s.max_retries for s in specs], "priority": [s.priority for s in specs],
        "timeout": [s.timeout for s in specs], "queue": [s.queue for s in specs],
        "cwd": [s.cwd for s in specs],
        "env": [json.dumps(s.env) if s.env else None for s in specs],
        "run_at": [to_ms(s.run_at) if s.run_at else None for s in specs],
        "channel": CHANNEL,
    }  # fmt: skip


def _finished_and_next(conn: Conn, params: dict[str, Any]) -> tuple[Job | None, Job | None]:
    """Run finish_job: its rows are the finished job (absent on a lost lease) and the next
    one claimed, which alone is 'processing'."""
    done = nxt = None
    for row in conn.cursor(row_factory=dict_row).execute(Q["finish_job"], params):
        job = job_from_row(row)
        if job.state is State.PROCESSING:
            nxt = job
        else:
            done = job
    return done, nxt


def _scalar(row: tuple[Any, ...] | None) -> int:
    assert row is not None
    return int(row[0])
