"""What every SQL store shares: the flow of each call, once, over the dialect's hooks.

A call here runs the dialect's named queries (sql/<dialect>/queries.sql) in the dialect's
transactions, applies the pure policy (transitions.after_attempt) and reads rows into the
models (storage/rows.py). A dialect supplies only what differs by driver:
- its connection and transactions: ``_reading`` (reads, no transaction), ``_write`` (one
  transaction), ``_write_statement`` (a call whose PostgreSQL SQL is one statement), and
  ``_snapshot`` (several reads that must agree);
- how parameters are bound: ``_clock`` (SQLite passes its clock as ``now``; PostgreSQL's
  SQL reads the database's), ``_list`` (a JSON array for SQLite, an array for PostgreSQL),
  ``_jobs`` (a statement's rows read as jobs);
- wake-ups (``_wake``), the bulk insert, the end of an attempt, and the cheap check that
  decides whether a recovery is worth a write.

Both dialects keep times as epoch milliseconds and bind parameters by name, so one
parameter dict serves both (a statement reads the names it uses and ignores the rest).

This module holds the hooks and the user's side (enqueue, reads, cancel, retry, purge);
the worker's calls are sql_workers.py's, recurring jobs sql_cron.py's and queue settings
sql_queues.py's: each a SqlStore, and each dialect subclasses all three.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from queuectl.errors import (
    AlreadyHeld,
    DependencyRefused,
    DuplicateJob,
    InvalidValue,
    JobNeeded,
    JobNotFound,
    StoreUnavailable,
    UniqueKeyTaken,
    WrongState,
)
from queuectl.ids import new_job_ids
from queuectl.models import (
    FINAL_STATES,
    READY_STATES,
    Attempt,
    Hook,
    IdlePlan,
    Job,
    JobSpec,
    State,
    WorkerInfo,
    to_ms,
)
from queuectl.records import replace
from queuectl.storage import dependencies
from queuectl.storage.base import (
    EDITABLE_COLUMNS,
    AttemptRow,
    Stats,
    Storage,
    gpus_of,
    refuse_repeated_ids,
)
from queuectl.storage.rows import (
    attempt_from_row,
    finished_attempt_from_row,
    inserted_job,
    ms,
    worker_from_row,
)

ID_DRAWS = 3  # a generated id may (astronomically rarely) collide: draw again this often
# Rounds of insert-then-find for unique keys: on PostgreSQL a key's holder may end between
# the insert that found the key taken and the read of the holder (see _insert_unique).
UNIQUE_ROUNDS = 5


def gives_more(spec: JobSpec) -> bool:
    """Whether a new job gives a field that insert_job leaves at its default (mark_given
    sets it)."""
    return (spec.rerun_of is not None or spec.held or bool(spec.tags)
            or spec.mutex is not None or bool(spec.success_exit) or bool(spec.no_retry_exit)
            or spec.deadline is not None or spec.expires_at is not None
            or spec.gpus is not None)


TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, ClassVar, Generic, Protocol, TypeVar

    from queuectl.models import QueueSettings
    from queuectl.transitions import Transition

    class Cursor(Protocol):
        """What the store reads from a statement (sqlite3's and psycopg's cursors alike)."""

        @property
        def rowcount(self) -> int: ...

        @property
        def description(self) -> Any: ...  # None for a statement that returns no rows

        def fetchone(self) -> Any: ...

        def fetchall(self) -> list[Any]: ...

        def __iter__(self) -> Iterator[Any]: ...

    class Conn(Protocol):
        """A connection as the flow uses it: named parameters, rows by position."""

        def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...

    Params = dict[str, Any]
    C = TypeVar("C", bound=Conn)  # the dialect's connection
else:
    class Generic:
        """typing.Generic as checkers see it; at run time ``SqlStore[C]`` is SqlStore itself
        (typing's own Generic, imported by every command, cost more than the store did)."""

        def __class_getitem__(cls, item: object) -> type:
            return cls

    C = None  # only subscripts read it at run time


def _queue_settings(rows: Sequence[Any]) -> tuple[QueueSettings, ...]:
    if not rows:  # most stores: no queue paused or limited, and nothing more to import
        return ()
    from queuectl.storage.queues import queue_from_row

    return tuple(queue_from_row(row) for row in rows)


def unmatchable(*texts: str | None) -> bool:
    """Whether a user-given key (a job id, queue or schedule name, search text; None: not
    given) holds a NUL character, and so names nothing in any store: PostgreSQL's text
    cannot hold one (its driver refuses to send it) and nothing with one is ever written to
    SQLite. A lookup by such a key finds nothing, the same on both stores, without asking."""
    return any(text is not None and "\0" in text for text in texts)


def like_pattern(text: str | None) -> str | None:
    """A search text as the LIKE pattern that finds it anywhere (its own wildcards and the
    escape character escaped); None for no search."""
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _edit_params(changes: Mapping[str, Any]) -> Params:
    """edit_job's parameters: for each editable column, whether it changes (``set_NAME``)
    and its new value as the column keeps it (times in epoch ms; env, tags and exit-code
    lists as JSON, NULL when empty)."""
    params: Params = {}
    for name in EDITABLE_COLUMNS:
        value = changes.get(name)
        if name == "env":
            value = json.dumps(value) if value else None
        elif name in ("tags", "success_exit", "no_retry_exit"):
            value = json.dumps(list(value), ensure_ascii=False) if value else None
        elif name in ("run_at", "expires_at") and value is not None:
            value = to_ms(value)
        params[f"set_{name}"] = name in changes
        params[name] = value
    return params


class SqlStore(Storage, Generic[C]):
    """The Storage contract over named SQL queries; subclasses are the dialects."""

    #: the dialect's named queries
    _q: ClassVar[dict[str, str]]
    #: the driver's error for a duplicate key (faults.py passes it through as it is)
    _duplicate_error: ClassVar[type[Exception]]

    # --- what a dialect supplies -------------------------------------------------------

    @abstractmethod
    def _reading(self) -> AbstractContextManager[C]:
        """The connection for reads (no transaction of ours); driver errors mapped."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[C]:
        """One transaction, rolled back if the block raises; driver errors mapped. Wake-ups
        asked for inside it (``_wake``) reach the workers once it commits."""

    def _write_statement(self) -> AbstractContextManager[C]:
        """The connection for a call whose writes the dialect's SQL makes in one statement
        (a dialect that runs it in its own transaction overrides this)."""
        return self._write()

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[C]:
        """Several reads that see one state of the store."""

    @abstractmethod
    def _clock(self) -> Params:
        """The parameters that tell a call's statements what "now" is."""

    @abstractmethod
    def _list(self, values: Sequence[str | int]) -> Any:
        """A list of texts (or of integers) as one bound parameter."""

    @abstractmethod
    def _edges(self, edges: Sequence[tuple[str, str, int, str]]) -> Params:
        """insert_dependencies' parameters for (job id, dependency id, position) edges,
        bound so that the statement reads them in one pass."""

    @abstractmethod
    def _jobs(self, conn: C, name: str, params: Params) -> list[Job]:
        """The rows of query ``name`` (whole job rows) as jobs."""

    @abstractmethod
    def _wake(self, conn: C, event: str, worker_ids: Sequence[str] = ()) -> None:
        """Inside a write: once it commits, wake workers for ``event``: "work" (the idle
        ones), "cancel" (``worker_ids``, which hold cancelled jobs), "stop" (those) or
        "config" (every worker: read the config again)."""

    @abstractmethod
    def _insert_jobs(self, specs: Sequence[JobSpec], ids: list[str]) -> int:
        """Insert the batch (ids distinct, max_retries resolved) in one transaction and
        wake idle workers; returns the store's now (epoch ms) that it wrote. A batch with
        dependencies (``dependencies.any_after``) records them in the same transaction
        (``_record_dependencies``). Raises ``_duplicate_error`` when an id exists, or
        DependencyRefused, having inserted nothing."""

    @abstractmethod
    def _unique_params(self, specs: Sequence[JobSpec], ids: list[str]) -> Params:
        """insert_job_unique's parameters for the batch (ids distinct, max_retries
        resolved), in the caller's transaction."""

    @abstractmethod
    def _end_attempt(
        self, conn: C, job: Job, params: Params, step: Transition,
        claim_queues: Sequence[str] | None, wake: bool,
    ) -> tuple[Job | None, Job | IdlePlan | None]:
        """Record the attempt and move the job as ``step`` says (``params``: see
        end_params), guarded by the job's row; with ``claim_queues`` (None: don't) claim
        the worker's next job too. Returns (the finished job, None when the guard failed;
        the next job, or the idle plan read after the finish when none was claimed, or
        None: no claim asked, or no plan read). ``wake``: wake idle workers when the job
        went back in the queue."""

    @abstractmethod
    def _anything_lost(self, lease_ms: int | None, clock: Params) -> bool:
        """Whether a recovery may find something, by a read that takes no lock."""

    @abstractmethod
    def _given_params(self, given: Sequence[tuple[str, JobSpec]]) -> Params:
        """mark_given's parameters for (job id, spec) pairs (see the dialect's SQL)."""

    @abstractmethod
    def _store_snapshots(self, conn: C, specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
        """In the insert's transaction: the new jobs' snapshots (``spec.frozen``), stored
        and named by their jobs (sql_snapshots.py)."""

    @abstractmethod
    def _snapshots_of(self, conn: C, job_ids: Sequence[str]) -> list[str]:
        """The snapshots the jobs ``job_ids`` use."""

    @abstractmethod
    def _forget_snapshots(self, conn: C, snapshot_ids: Sequence[str]) -> None:
        """Delete those of ``snapshot_ids`` no job uses any more, in the caller's
        transaction."""

    # --- plumbing ------------------------------------------------------------------------

    def _wake_for_hooks(self, conn: C) -> None:
        """After a change that no worker made (a cancel, an expiry): if some hook may
        have enqueued a job in it, wake idle workers to claim it."""
        if conn.execute(self._q["hook_list"]).fetchone() is not None:
            self._wake(conn, "work")

    def _mark_given(self, conn: C, specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
        """In the insert's transaction, after its dependencies are recorded: the fields
        insert_job leaves at their defaults (``gives_more``), for the jobs that give them.
        Kept out of insert_job so that a plain enqueue costs what it did."""
        given = [(job_id, spec) for spec, job_id in zip(specs, ids, strict=True)
                 if gives_more(spec)]
        if given:
            conn.execute(self._q["mark_given"], self._given_params(given))

    def _mark_run_at_fixed(self, conn: C, specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
        """In the insert's transaction: mark the jobs of the batch whose run_at is a
        wall-clock time (``JobSpec.run_at_fixed``), which a step of the clock leaves."""
        fixed = [job_id for spec, job_id in zip(specs, ids, strict=True) if spec.run_at_fixed]
        if fixed:
            conn.execute(self._q["mark_run_at_fixed"], {"ids": self._list(fixed)})

    def _read(self, name: str, params: Params | None = None) -> list[Any]:
        """Every row of one read."""
        with self._reading() as conn:
            return conn.execute(self._q[name], params or {}).fetchall()

    def _read_jobs(self, name: str, params: Params) -> list[Job]:
        with self._reading() as conn:
            return self._jobs(conn, name, params)

    def _refusal(self, conn: C, job_id: str, wanted: str) -> Exception:
        """Why job ``job_id`` is not in a state ``wanted`` names."""
        found = self._jobs(conn, "get_job", {"id": job_id})
        if not found:
            return JobNotFound(job_id)
        return WrongState(job_id, str(found[0].state), wanted)

    # --- jobs ----------------------------------------------------------------------------

    def enqueue(self, specs: Sequence[JobSpec]) -> list[Job]:
        if not specs:
            return []
        if any(spec.unique_key is not None for spec in specs):
            return self._enqueue_unique(specs)
        ids, now = self._enqueue(specs)
        created = ms(now)  # one datetime for the whole batch (100,000 jobs in a bulk file)
        rows = zip(specs, ids, strict=True)
        jobs = [inserted_job(spec, job_id, created) for spec, job_id in rows]
        return self._with_dependencies(jobs) if dependencies.any_after(specs) else jobs

    def enqueue_ids(self, specs: Sequence[JobSpec]) -> list[str]:
        if any(spec.unique_key is not None for spec in specs):
            return [job.id for job in self._enqueue_unique(specs)]
        return self._enqueue(specs)[0] if specs else []

    def _enqueue_unique(self, specs: Sequence[JobSpec]) -> list[Job]:
        """enqueue for a batch with unique keys: a job whose key a pending, failed
        or processing job holds (or an earlier job of the batch) is not inserted; the
        holder comes back in its place, marked ``duplicate``. The store's unique index
        decides between concurrent enqueuers (insert ... on conflict do nothing), never a
        look before the insert."""
        if any(spec.max_retries is None for spec in specs):
            raise InvalidValue("max_retries must be resolved before enqueue")
        for _ in range(ID_DRAWS):
            fresh = iter(new_job_ids(sum(1 for spec in specs if not spec.id)))
            ids = [spec.id or next(fresh) for spec in specs]
            refuse_repeated_ids(ids)
            try:
                with self._write() as conn:
                    return self._insert_unique(conn, specs, ids)
            except self._duplicate_error:
                # Rolled back by now, so only jobs that existed before are found.
                existing = self._first_existing(ids)
                if any(spec.id == existing for spec in specs):
                    raise DuplicateJob(existing) from None
        raise StoreUnavailable("could not draw a unique job id")

    def _insert_unique(self, conn: C, specs: Sequence[JobSpec], ids: list[str]) -> list[Job]:
        made: dict[str, Job] = {}
        todo = list(range(len(specs)))
        for _ in range(UNIQUE_ROUNDS):
            params = self._unique_params([specs[n] for n in todo], [ids[n] for n in todo])
            made.update((job.id, job) for job in self._jobs(conn, "insert_job_unique", params))
            left = []
            for n in todo:
                if ids[n] in made:
                    continue
                holder = self._jobs(conn, "job_with_unique_key", {"key": specs[n].unique_key})
                if holder:
                    made[ids[n]] = replace(holder[0], duplicate=True)
                else:  # it ended meanwhile (PostgreSQL): the key is free, insert again
                    left.append(n)
            if not left:
                new = [n for n, job_id in enumerate(ids) if not made[job_id].duplicate]
                if dependencies.any_after([specs[n] for n in new]):
                    try:
                        self._record_dependencies(conn, [specs[n] for n in new],
                                                  [ids[n] for n in new])
                    except DependencyRefused as refused:  # its place in the whole batch
                        raise refused.at(new[refused.index]) from None
                    fresh = self._with_dependencies_in(conn, [made[ids[n]] for n in new])
                    made.update((job.id, job) for job in fresh)
                self._mark_run_at_fixed(conn, [specs[n] for n in new], [ids[n] for n in new])
                self._mark_given(conn, [specs[n] for n in new], [ids[n] for n in new])
                self._store_snapshots(conn, [specs[n] for n in new], [ids[n] for n in new])
                if any(spec.on_duplicate != "keep" or spec.debounce_ms for spec in specs):
                    self._duplicates_act(conn, specs, ids, made)
                if new:
                    self._wake(conn, "work")
                return [made[job_id] for job_id in ids]
            todo = left
        raise StoreUnavailable("unique keys kept changing hands: enqueue again")

    def _duplicates_act(
        self, conn: C, specs: Sequence[JobSpec], ids: Sequence[str], made: dict[str, Job]
    ) -> None:
        """`--on-duplicate replace` and `--debounce`, in the enqueue's transaction: a new
        job with a debounce is due that long from now; a duplicate whose key a waiting
        (pending or failed) job holds replaces that job's fields, and with a debounce moves
        its due time to that long from now. A holder that runs is left alone (guarded in
        SQL: one claimed meanwhile is too). ``made`` gets the jobs as they are now."""
        for spec, job_id in zip(specs, ids, strict=True):
            job = made[job_id]
            target = job.id
            if not job.duplicate:
                if spec.debounce_ms:
                    conn.execute(self._q["debounce_waiting"],
                                 {"id": target, "debounce_ms": spec.debounce_ms, **self._clock()})
            else:
                changed = False
                if spec.on_duplicate == "replace":
                    changed = self._replace_waiting(conn, target, spec)
                if spec.debounce_ms:
                    changed = conn.execute(
                        self._q["debounce_waiting"],
                        {"id": target, "debounce_ms": spec.debounce_ms, **self._clock()},
                    ).fetchone() is not None or changed
                if not changed:
                    continue
            [now] = self._jobs(conn, "get_job", {"id": target})
            made[job_id] = replace(now, duplicate=job.duplicate)

    def _replace_waiting(self, conn: C, job_id: str, spec: JobSpec) -> bool:
        """The fields of waiting job ``job_id`` become ``spec``'s (not its id, unique key,
        dependencies or hold); whether it was waiting."""
        params = {"id": job_id, "command": spec.command, "max_retries": spec.max_retries,
                  "priority": spec.priority, "timeout": spec.timeout, "queue": spec.queue,
                  "cwd": spec.cwd, "env": json.dumps(spec.env) if spec.env else None,
                  "run_at": None if spec.run_at is None else to_ms(spec.run_at),
                  "tags": json.dumps(list(spec.tags)) if spec.tags else None,
                  "mutex": spec.mutex, "gpus": spec.gpus, **self._clock()}
        return conn.execute(self._q["replace_waiting"], params).fetchone() is not None

    def _enqueue(self, specs: Sequence[JobSpec]) -> tuple[list[str], int]:
        """The new ids and the store's now at insertion."""
        if any(spec.max_retries is None for spec in specs):
            raise InvalidValue("max_retries must be resolved before enqueue")
        for _ in range(ID_DRAWS):
            fresh = iter(new_job_ids(sum(1 for spec in specs if not spec.id)))
            ids = [spec.id or next(fresh) for spec in specs]
            try:
                return ids, self._insert(specs, ids)
            except DuplicateJob as dup:
                if any(spec.id == dup.job_id for spec in specs):
                    raise
        raise StoreUnavailable("could not draw a unique job id")

    def _insert(self, specs: Sequence[JobSpec], ids: list[str]) -> int:
        refuse_repeated_ids(ids)
        try:
            return self._insert_jobs(specs, ids)
        except self._duplicate_error:
            # Rolled back by now, so only jobs that existed before are found.
            raise DuplicateJob(self._first_existing(ids)) from None

    def _first_existing(self, ids: list[str]) -> str:
        with self._reading() as conn:
            for job_id in ids:
                if conn.execute(self._q["get_job"], {"id": job_id}).fetchone():
                    return job_id
        return ids[0]

    def _record_dependencies(self, conn: C, specs: Sequence[JobSpec], ids: list[str]) -> None:
        """Inside enqueue's transaction, after its jobs are inserted: refuse the batch if a
        dependency can never complete (DependencyRefused), else write the edges and block
        the jobs that wait. lock_dependencies keeps a dependency from completing unseen
        meanwhile (the write lock on SQLite, row locks on PostgreSQL)."""
        dependencies.check_cycles(specs, ids)
        params = {"ids": self._list(dependencies.targets(specs))}
        states = {row[0]: row[1] for row in conn.execute(self._q["lock_dependencies"], params)}
        dependencies.check_targets(specs, states)
        edges = dependencies.edges(specs, ids)
        conn.execute(self._q["insert_dependencies"], self._edges(edges))
        conn.execute(self._q["block_waiting"], {"ids": self._list(sorted({e[0] for e in edges}))})

    def _with_dependencies(self, jobs: list[Job]) -> list[Job]:
        """``jobs`` with their ``after`` and ``waiting_for`` read from the store."""
        if not jobs:
            return jobs
        with self._reading() as conn:
            return self._with_dependencies_in(conn, jobs)

    def _with_dependencies_in(self, conn: C, jobs: list[Job]) -> list[Job]:
        """_with_dependencies on the caller's connection (inside its transaction)."""
        if not jobs:
            return jobs
        params = {"ids": self._list([job.id for job in jobs])}
        return dependencies.attach(jobs, conn.execute(self._q["dependencies_of"], params))

    def dependents(self, job_id: str) -> list[str]:
        if unmatchable(job_id):
            return []
        return [row[0] for row in self._read("dependents_of", {"id": job_id})]

    def get_job(self, job_id: str) -> Job | None:
        if unmatchable(job_id):
            return None
        found = self._with_dependencies(self._read_jobs("get_job", {"id": job_id}))
        return found[0] if found else None

    def list_jobs(
        self, state: State | None = None, queue: str | None = None, limit: int | None = 100,
        offset: int = 0, id_contains: str | None = None, cron: str | None = None,
        tags: Sequence[str] = (), search: str | None = None, window: int | None = None,
    ) -> list[Job]:
        if unmatchable(queue, id_contains, cron, search, *tags):
            return []
        params = {
            "state": str(state) if state else None, "queue": queue, "id_contains": id_contains,
            "cron": cron, "limit": limit, "offset": offset, "search": like_pattern(search),
            "tags": json.dumps(list(dict.fromkeys(tags)), ensure_ascii=False) if tags else None,
            "window": window,
        }
        windowed = window is not None and (bool(search) or bool(tags))
        name = "list_jobs_window" if windowed else "list_jobs"
        return self._with_dependencies(self._read_jobs(name, params))

    def beyond_window(self, state: State | None = None, queue: str | None = None,
                      cron: str | None = None, *, window: int) -> bool:
        if unmatchable(queue, cron):
            return False
        params = {"state": str(state) if state else None, "queue": queue, "cron": cron,
                  "window": window}
        return bool(self._read("beyond_window", params)[0][0])

    def attempts(self, job_id: str) -> list[Attempt]:
        if unmatchable(job_id):
            return []
        return [attempt_from_row(row) for row in self._read("attempts", {"id": job_id})]

    def stats(self) -> Stats:
        params = self._clock()
        with self._snapshot() as conn:
            counts = {str(s): 0 for s in State}
            counts.update(
                {row[0]: int(row[1]) for row in conn.execute(self._q["count_states"], params)}
            )
            scheduled = int(conn.execute(self._q["count_scheduled"], params).fetchone()[0])
            blocked = int(conn.execute(self._q["count_blocked"], params).fetchone()[0])
            held = int(conn.execute(self._q["count_held"], params).fetchone()[0])
            workers = self._judged_workers(conn)
            settings = conn.execute(self._q["queue_settings"], {}).fetchall()
        active = [w for w in workers if w.state != "lost"]
        busy = sum(w.state == "busy" for w in active)
        return Stats(counts, scheduled, len(active), busy, blocked, _queue_settings(settings),
                     held, gpus_of(active))

    # --- user operations -------------------------------------------------------------------

    def cancel(self, job_ids: Sequence[str]) -> list[Job]:
        clock = self._clock()
        wanted = list(dict.fromkeys(job_ids))
        if not wanted:
            return []
        with self._write() as conn:
            # Set-wise (one statement each for a bulk action's whole batch); the first job
            # in the order given that was not cancelled refuses the lot (rolled back).
            sent = [job_id for job_id in wanted if not unmatchable(job_id)]
            params = {"ids": self._list(sent), **clock}
            conn.execute(self._q["keep_running_attempts"], params)
            found = {job.id: job for job in self._jobs(conn, "cancel_jobs", params)}
            for job_id in wanted:
                if unmatchable(job_id):
                    raise JobNotFound(job_id)
                if job_id not in found:
                    raise self._refusal(conn, job_id, "pending, failed or processing")
            done = [found[job_id] for job_id in wanted]
            # What waits on them can never run now: cancelled too (never running ones).
            ids = self._list([job.id for job in done])
            conn.execute(self._q["cancel_dependents"], {"ids": ids, **clock}).fetchall()
            holders = [job.worker for job in done if job.worker and job.started_at]
            if holders:
                self._wake(conn, "cancel", [w for w in holders if w])
            self._wake_for_hooks(conn)
        return self._with_dependencies(done)

    def retry_dead(self, job_ids: Sequence[str] | None) -> list[Job]:
        clock = self._clock()
        done: list[Job] = []
        with self._write() as conn:
            every = job_ids is None
            if job_ids is None:
                job_ids = [row[0] for row in conn.execute(self._q["dead_ids"], {})]
            for job_id in job_ids:
                if unmatchable(job_id):
                    raise JobNotFound(job_id)
                holder = conn.execute(self._q["unique_key_holder"], {"id": job_id}).fetchone()
                if holder is not None:
                    if every:  # one job per key comes back; the rest stay in the DLQ
                        continue
                    raise UniqueKeyTaken(job_id, holder[0])
                found = self._jobs(conn, "retry_dead", {"id": job_id, **clock})
                if not found:
                    raise self._refusal(conn, job_id, "dead")
                done.extend(found)
            if done:
                self._wake(conn, "work")
        return self._with_dependencies(done)

    def purge(self, states: Sequence[State], older_than: float) -> int:
        final = [str(s) for s in states if s in FINAL_STATES]
        params = {"states": self._list(final), "older_ms": int(older_than * 1000),
                  **self._clock()}
        with self._write() as conn:
            locked = [row[0] for row in conn.execute(self._q["purge_lock"], params)]
            return len(self._delete_finished(conn, locked))

    def match_jobs(
        self, states: Sequence[str], *, after: int = 0, limit: int = 1000,
        held: bool | None = None, queue: str | None = None, tags: Sequence[str] = (),
        search: str | None = None, older_than: float | None = None, unneeded: bool = False,
    ) -> list[tuple[int, str]]:
        if not states or unmatchable(queue, search, *tags):
            return []
        params = {
            "states": self._list(list(states)), "after": after, "limit": limit, "held": held,
            "queue": queue, "search": like_pattern(search),
            "tags": json.dumps(list(dict.fromkeys(tags)), ensure_ascii=False) if tags else None,
            "older_ms": None if older_than is None else int(older_than * 1000),
            "unneeded": True if unneeded else None, **self._clock(),
        }
        return [(int(row[0]), row[1]) for row in self._read("match_jobs", params)]

    def hold(self, job_ids: Sequence[str]) -> list[Job]:
        return self._held(job_ids, "hold_job")

    def release(self, job_ids: Sequence[str]) -> list[Job]:
        return self._held(job_ids, "release_job")

    def _held(self, job_ids: Sequence[str], name: str) -> list[Job]:
        """hold_job or release_job on each job, in one transaction: all or none."""
        clock = self._clock()
        done: list[Job] = []
        with self._write() as conn:
            for job_id in dict.fromkeys(job_ids):
                if unmatchable(job_id):
                    raise JobNotFound(job_id)
                found = self._jobs(conn, name, {"id": job_id, **clock})
                if not found:
                    raise self._hold_refusal(conn, job_id, name == "hold_job")
                done.extend(found)
            if done and name == "release_job":
                self._wake(conn, "work")
        return self._with_dependencies(done)

    def _hold_refusal(self, conn: C, job_id: str, holding: bool) -> Exception:
        """Why job ``job_id`` cannot be held (``holding``) or released."""
        found = self._jobs(conn, "get_job", {"id": job_id})
        if not found:
            return JobNotFound(job_id)
        job = found[0]
        if holding and job.held and job.state in READY_STATES:
            return AlreadyHeld(job_id, str(job.state))
        if holding:
            return WrongState(job_id, str(job.state), "pending or failed")
        return WrongState(job_id, str(job.state), "held")

    def edit(self, job_id: str, changes: Mapping[str, Any]) -> Job:
        unknown = set(changes) - set(EDITABLE_COLUMNS)
        if unknown:
            raise InvalidValue(f"{sorted(unknown)[0]} cannot be edited")
        if unmatchable(job_id):
            raise JobNotFound(job_id)
        params = {"id": job_id, **_edit_params(changes), **self._clock()}
        with self._write() as conn:
            # One guarded statement: a claim before it leaves it no row to change (the job
            # is processing then), a claim after it takes the edited job.
            found = self._jobs(conn, "edit_job", params)
            if not found:
                raise self._refusal(conn, job_id, "pending or failed")
            self._wake(conn, "work")
        return self._with_dependencies(found)[0]

    def remove(self, job_ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(job_ids))
        for job_id in wanted:
            if unmatchable(job_id):
                raise JobNotFound(job_id)
        if not wanted:
            return []
        with self._write() as conn:
            params = {"ids": self._list(wanted)}
            states = {row[0]: row[1] for row in conn.execute(self._q["remove_lock"], params)}
            for job_id in wanted:
                if job_id not in states:
                    raise JobNotFound(job_id)
                if states[job_id] not in FINAL_STATES:
                    raise WrongState(job_id, states[job_id], "completed, dead or cancelled")
            unneeded = {row[0] for row in conn.execute(self._q["finished_unneeded"], params)}
            for job_id in wanted:
                if job_id not in unneeded:
                    row = conn.execute(self._q["waiting_dependent"], {"id": job_id}).fetchone()
                    raise JobNeeded(job_id, states[job_id], row[0] if row else "?")
            self._delete_jobs(conn, wanted)
        return wanted

    def hook_add(self, hook: Hook, replace: bool = False) -> bool:
        params = {"name": hook.name, "events": json.dumps(list(hook.on)),
                  "command": hook.command, "queue": hook.queue, "cron": hook.cron,
                  "cwd": hook.cwd, **self._clock()}
        with self._write() as conn:
            name = "hook_replace" if replace else "hook_insert"
            if conn.execute(self._q[name], params).fetchone() is None:
                return False
            conn.execute(self._q["hooks_on"])  # (the trigger lives while some hook does)
            return True

    def hooks(self) -> list[Hook]:
        return [Hook(name=row[0], on=tuple(json.loads(row[1])), command=row[2],
                     queue=row[3], cron=row[4], cwd=row[5])
                for row in self._read("hook_list")]

    def hook_remove(self, name: str) -> bool:
        if unmatchable(name):
            return False
        with self._write() as conn:
            if conn.execute(self._q["hook_delete"], {"name": name}).fetchone() is None:
                return False
            if not conn.execute(self._q["hook_list"]).fetchall():
                conn.execute(self._q["hooks_off"])  # the last one: no trigger per job
            return True

    def prune_finished(self, older_than: float, limit: int) -> int:
        params = {"older_ms": int(older_than * 1000), "limit": limit, **self._clock()}
        found = [row[0] for row in self._read("prune_candidates", params)]
        if not found:
            return 0
        with self._write() as conn:
            params.update(self._clock(), ids=self._list(found))
            locked = [row[0] for row in conn.execute(self._q["prune_lock"], params)]
            return len(self._delete_finished(conn, locked))

    def _delete_finished(self, conn: C, locked: list[str]) -> list[str]:
        """Delete, with their attempts and their own edges, the ``locked`` finished jobs
        that no waiting job needs (judged in a statement of its own: see queries.sql)."""
        if not locked:
            return []
        ids = self._list(locked)
        gone = [row[0] for row in conn.execute(self._q["finished_unneeded"], {"ids": ids})]
        if gone:
            self._delete_jobs(conn, gone)
        return gone

    def _delete_jobs(self, conn: C, job_ids: list[str]) -> None:
        """Delete jobs with their attempts (and output) and their own edges, and the
        snapshots no job uses any more."""
        params = {"ids": self._list(job_ids)}
        used = self._snapshots_of(conn, job_ids)
        for name in ("delete_attempts", "delete_dependencies", "delete_jobs"):
            conn.execute(self._q[name], params)
        if used:
            self._forget_snapshots(conn, used)

    def request_stop(self) -> list[str]:
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(self._q["request_stop"], {}).fetchall()]
            if ids:
                self._wake(conn, "stop", ids)
        return ids

    def list_workers(self) -> list[WorkerInfo]:
        with self._snapshot() as conn:
            return self._judged_workers(conn)

    def _judged_workers(self, conn: C) -> list[WorkerInfo]:
        """Every worker with the state its readers show (liveness.judged), judged by the
        store's clock (the row's now_ms), so that the table, the JSON, the counts of
        ``stats`` and the dashboard cannot disagree about who is lost."""
        config = {row[0]: row[1] for row in conn.execute(self._q["config_items"], {})}
        rows = conn.execute(self._q["all_workers"], self._clock()).fetchall()
        if not rows:
            return []
        # Imported here: liveness reads this host's boot and pid namespace as it is
        # imported, which a command with no workers to judge never needs.
        from queuectl.storage import liveness

        now = rows[0][8] / 1000
        workers = [worker_from_row(row) for row in rows]
        judged = liveness.judged(workers, now, liveness.lease_seconds(config))
        pools = conn.execute(self._q["worker_gpus"], {}).fetchall()
        if pools:  # pools with GPUs: each worker's GPUs and the jobs holding them
            from queuectl.storage.gpus import with_gpus

            in_use = conn.execute(self._q["gpus_in_use"], {}).fetchall()
            judged = with_gpus(judged, pools, in_use)
        return judged

    def config_items(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self._read("config_items")}

    def config_set(self, key: str, value: str) -> None:
        with self._write_statement() as conn:
            conn.execute(self._q["config_set"], {"key": key, "value": value})
            # Workers trust their snapshot for seconds (config_snapshot.CONFIG_TTL): told, they
            # read it again before their next job.
            self._wake(conn, "config")

    def finished_attempts(self, since: datetime) -> list[AttemptRow]:
        rows = self._read("finished_attempts", {"since": to_ms(since)})
        return [finished_attempt_from_row(row) for row in rows]

    def dead_since(self, since: datetime) -> int:
        return int(self._read("dead_since", {"since": to_ms(since)})[0][0])

