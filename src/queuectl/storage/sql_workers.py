"""The worker's side of the SQL store base: claim, finish, output, liveness, recovery, once
for both dialects (the user's side and the flow's hooks are sql_store.py's)."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from queuectl.errors import InvalidValue, JobNotFound, LostLease, WrongState
from queuectl.models import (
    AttemptResult,
    CheckIn,
    IdlePlan,
    Job,
    Output,
    State,
    WorkerInfo,
    from_ms,
    replaced_job,
)
from queuectl.storage.base import NOTHING_LOST, Lost, Recovered
from queuectl.storage.rows import check_in_from_row, check_in_params, end_params
from queuectl.storage.sql_store import C, SqlStore, unmatchable

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from queuectl.storage.sql_store import Params
    from queuectl.transitions import Transition


class SqlWorkers(SqlStore[C]):
    """SqlStore with the calls a worker makes; the dialects subclass this."""

    def claim(self, worker_id: str, queues: Sequence[str] | None = None) -> Job | None:
        found = self.claim_or_plan(worker_id, queues)
        return found if isinstance(found, Job) else None

    def claim_or_plan(self, worker_id: str, queues: Sequence[str] | None = None
                      ) -> Job | IdlePlan:
        with self._write_statement() as conn:
            # The clock is read once the write lock is held (SQLite; PostgreSQL's SQL reads
            # its own): a claim never stamps a start earlier than the end of an attempt
            # committed before it, so the jobs' own times show a queue's limit held.
            return self._claim_in(conn, worker_id, queues, self._clock())

    @abstractmethod
    def _claim_in(
        self, conn: C, worker_id: str, queues: Sequence[str] | None, clock: Params
    ) -> Job | IdlePlan:
        """The claim in the caller's transaction (its attempt's row is written when it
        ends); when it takes nothing, the idle plan read in that transaction too."""

    @abstractmethod
    def _plan_in(self, conn: C, queues: Sequence[str] | None, clock: Params) -> IdlePlan:
        """``idle_plan``, read on ``conn`` (in the caller's transaction, if one is open)."""

    def seconds_until_due(self, queues: Sequence[str] | None = None) -> float | None:
        return self.idle_plan(queues).due

    def idle_plan(self, queues: Sequence[str] | None = None) -> IdlePlan:
        with self._reading() as conn:
            return self._plan_in(conn, queues, self._clock())

    def finish(self, job: Job, worker_id: str, result: AttemptResult, step: Transition) -> Job:
        done, _ = self._finish(job, worker_id, result, step, None)
        if done is None:
            raise LostLease(f"job {job.id!r} is no longer held by worker {worker_id}")
        return done

    def finish_and_claim(
        self, job: Job, worker_id: str, result: AttemptResult, step: Transition,
        queues: Sequence[str] | None = None,
    ) -> tuple[Job | None, Job | IdlePlan]:
        """One transaction where finish + claim are two (less CPU per job on SQLite:
        bench/RESULTS.md), one statement, round trip and commit on PostgreSQL."""
        done, nxt = self._finish(job, worker_id, result, step, list(queues or []))
        assert nxt is not None  # a claim was asked for
        return done, nxt

    def _finish(
        self, job: Job, worker_id: str, result: AttemptResult, step: Transition,
        claim_queues: Sequence[str] | None,
    ) -> tuple[Job | None, Job | IdlePlan | None]:
        params = end_params(job, worker_id, result, step)
        with self._write_statement() as conn:
            clock = self._clock()
            params.update(clock)  # under the lock: see claim
            done, nxt = self._end_attempt(conn, job, params, step, claim_queues, wake=True)
            if claim_queues is not None and nxt is None:
                # (PostgreSQL: a job taken over, with nothing claimed, leaves no row to carry it.)
                nxt = self._plan_in(conn, claim_queues, clock)
            return done, nxt

    def start_deadline(self, job: Job, worker_id: str) -> datetime | None:
        params = {"id": job.id, "worker": worker_id, "number": job.last_attempt}
        with self._write_statement() as conn:
            row = conn.execute(self._q["start_deadline"], params).fetchone()
        return None if row is None else from_ms(row[0])

    def end_unstarted(self, job: Job, worker_id: str, state: State, error: str) -> bool:
        params = {"id": job.id, "worker": worker_id, "number": job.last_attempt,
                  "state": str(state), "error": error, **self._clock()}
        with self._write() as conn:
            if conn.execute(self._q["end_unstarted"], params).fetchone() is None:
                return False
            if state is State.CANCELLED:
                self._cancel_dependents(conn, [job.id])
            self._wake(conn, "work")  # a place it held in a limited queue is free
        return True

    def snooze(self, job_id: str, attempt: int, max_snoozes: int) -> int:
        params = {"id": job_id, "number": attempt, "max": max_snoozes}
        with self._write() as conn:
            row = conn.execute(self._q["snooze_job"], params).fetchone()
            if row is not None:
                return int(row[0])
            found = self._jobs(conn, "get_job", {"id": job_id})
        if not found:
            raise JobNotFound(job_id)
        job = found[0]
        if job.state is not State.PROCESSING or job.last_attempt != attempt:
            raise WrongState(job_id, f"{job.state} (attempt {job.last_attempt})",
                             f"running attempt {attempt}")
        raise InvalidValue(f"job {job_id!r} has snoozed {job.snoozes} times: at most "
                           f"{max_snoozes} (config max-snoozes)")

    def expire_jobs(self, limit: int) -> list[str]:
        found = [row[0] for row in self._read("expiring_ids", {"limit": limit,
                                                               **self._clock()})]
        if not found:
            return []
        with self._write() as conn:
            params = {"ids": self._list(found), **self._clock()}
            expired = [row[0] for row in conn.execute(self._q["expire_jobs"], params)]
            if expired:
                self._cancel_dependents(conn, expired)
                self._wake_for_hooks(conn)
        return expired

    def _cancel_dependents(self, conn: C, job_ids: list[str]) -> None:
        """What waits on cancelled ``job_ids`` can never run: cancelled too."""
        params = {"ids": self._list(job_ids), **self._clock()}
        conn.execute(self._q["cancel_dependents"], params).fetchall()

    def save_output(self, job_id: str, attempt: int, data: bytes, dropped: int) -> None:
        params = {"id": job_id, "number": attempt, "output": data, "dropped": dropped}
        with self._write_statement() as conn:
            conn.execute(self._q["save_output"], params)

    def read_output(self, job_id: str, attempt: int | None = None) -> Output | None:
        if unmatchable(job_id):
            return None
        rows = self._read("read_output", {"id": job_id, "number": attempt})
        if not rows:
            return None
        number, data, dropped, finished = rows[0]
        return Output(job_id, number, bytes(data or b""), int(dropped), bool(finished))

    def register_worker(self, info: WorkerInfo) -> None:
        gpus = [use.gpu for use in info.gpus]
        params = {"id": info.id, "host": info.host, "pid": info.pid,
                  "pid_scope": info.pid_scope, "queues": json.dumps(info.queues),
                  "gpus": json.dumps(gpus) if gpus else None, **self._clock()}
        with self._write_statement() as conn:
            conn.execute(self._q["insert_worker"], params)
        if gpus:
            with self._write() as conn:
                conn.execute(self._q["gpus_register"],
                             {"host": info.host, "gpus": self._list(gpus)})

    def claim_gpus(self, worker_id: str, host: str, gpus: Sequence[int],
                   queues: Sequence[str] | None = None) -> Job | IdlePlan:
        with self._write() as conn:
            clock = self._clock()  # under the write lock: see claim_or_plan
            self._lock_gpus(conn, host)
            job = self._claim_gpu_job(conn, worker_id, host, gpus, queues, clock)
        if job is not None:
            return job
        # The ordinary claim in a transaction of its own: nothing the GPU claim locked (a
        # queue's row on PostgreSQL) is held while it locks its own, so a claim never holds
        # two queue rows (two claimers each holding one and waiting for the other's).
        with self._write() as conn:
            clock = self._clock()
            found = self._claim_in(conn, worker_id, queues, clock)
            if isinstance(found, Job):
                return found
            params = {"owned": len(gpus), "queues": self._list(queues) if queues else None,
                      **clock}
            due_ms = conn.execute(self._q["gpu_next_due"], params).fetchone()[0]
            if due_ms is None:
                return found
            due = max(0.0, int(due_ms) / 1000)
            return IdlePlan(due if found.due is None else min(due, found.due), found.tick)

    def _lock_gpus(self, conn: C, host: str) -> None:
        """Serialize the GPU claims of ``host`` until the transaction ends (SQLite's write
        lock already does)."""

    def _claim_gpu_job(self, conn: C, worker_id: str, host: str, gpus: Sequence[int],
                       queues: Sequence[str] | None, clock: Params) -> Job | None:
        """The GPU job that fits the free GPUs among ``gpus``, claimed and given the lowest
        of them, in the caller's transaction (the host's GPUs locked); None: none fits."""
        params = {"host": host, "gpus": self._list(list(gpus))}
        free = [int(row[0]) for row in conn.execute(self._q["gpus_free"], params)]
        if not free:
            return None
        params = {"worker": worker_id, "free": len(free),
                  "queues": self._list(queues) if queues else None, **clock}
        found = self._jobs(conn, "claim_gpu", params)
        if not found:
            return None
        job = found[0]
        given = free[:job.gpus or 0]
        conn.execute(self._q["give_gpus"], {"id": job.id, "number": job.last_attempt,
                                            "host": host, "given": self._list(given)})
        conn.execute(self._q["job_gpus_assigned"],
                     {"id": job.id, "assigned": json.dumps(given)})
        return replaced_job(job, gpus_assigned=tuple(given))

    def unregister_worker(self, worker_id: str) -> None:
        with self._write_statement() as conn:
            conn.execute(self._q["delete_worker"], {"id": worker_id})

    def heartbeat(self, worker_id: str, job: Job | None) -> CheckIn:
        params = {**check_in_params(worker_id, job), **self._clock()}
        with self._write_statement() as conn:
            row = conn.execute(self._q["heartbeat"], params).fetchone()
            if row is None:  # a heartbeat that only writes: check_in reads the answer
                row = conn.execute(self._q["check_in"], params).fetchone()
        return check_in_from_row(row, job)

    def check_in(self, worker_id: str, job: Job | None) -> CheckIn:
        [row] = self._read("check_in", check_in_params(worker_id, job))
        return check_in_from_row(row, job)

    def find_lost(self, lease_timeout: float, *, judge_silence: bool = True) -> Lost:
        lease_ms = int(lease_timeout * 1000) if judge_silence else None
        clock = self._clock()
        if not self._anything_lost(lease_ms, clock):
            return NOTHING_LOST
        # Under the locks that hand_back takes (SQLite's write lock; the lost workers' rows
        # on PostgreSQL), so that the decision is one state of the store; but released
        # before the caller kills anything (a kill scans /proc and waits on nobody's time).
        with self._write() as conn:
            dead, silent = self._lost_workers(conn, lease_ms, clock)
            jobs = self._jobs(conn, "held_jobs", self._held_params(dead, silent, lease_ms, clock))
        return Lost(tuple(dead), tuple(silent), tuple(jobs), lease_ms)

    def hand_back(self, lost: Lost, steps: Sequence[Transition]) -> list[Recovered]:
        if not lost.anything:
            return []
        decided = set(lost.dead + lost.silent)
        recovered: list[Recovered] = []
        clock = self._clock()
        with self._write() as conn:
            dead, silent = self._lost_workers(conn, lost.lease_ms, clock)
            dead = [w for w in dead if w in decided]  # newly lost: the next pass's
            silent = [w for w in silent if w in decided]
            params = self._held_params(dead, silent, lost.lease_ms, clock)
            held = {job.id for job in self._jobs(conn, "held_jobs", params)}
            for job, step in zip(lost.jobs, steps, strict=True):
                if job.id in held:  # (and the SQL guard checks it is still that attempt)
                    handed_back = self._hand_back(conn, job, step, clock)
                    if handed_back is not None:
                        recovered.append(handed_back)
            if dead or silent:
                conn.execute(self._q["close_orphan_attempts"], params)
                conn.execute(self._q["delete_workers"], params)
            if recovered:
                self._wake(conn, "work")
        return recovered

    def _judge(self, conn: C, lease_ms: int | None, clock: Params) -> tuple[list[str], list[str]]:
        """(dead, silent) by the workers' vitals (see liveness.lost_workers)."""
        from queuectl.storage import liveness  # reads this host's ids: see _judged_workers

        params = {"lease_ms": lease_ms, "host": liveness.HOST_ID,
                  "pid_scope": liveness.PID_SCOPE, **clock}
        vitals = conn.execute(self._q["vitals"], params).fetchall()
        cutoff = vitals[0][5] if vitals else None
        return liveness.lost_workers(((r[0], r[1], r[2], r[3], r[4]) for r in vitals), cutoff)

    def _lost_workers(
        self, conn: C, lease_ms: int | None, clock: Params
    ) -> tuple[list[str], list[str]]:
        """(dead, silent), judged inside the recovery's transaction."""
        return self._judge(conn, lease_ms, clock)

    def _held_params(
        self, dead: list[str], silent: list[str], lease_ms: int | None, clock: Params
    ) -> Params:
        """The parameters of held_jobs and of the lost workers' clean-up."""
        return {"dead": self._list(dead), "silent": self._list(silent),
                "lost": self._list(dead + silent), "lease_ms": lease_ms, **clock}

    def _hand_back(
        self, conn: C, job: Job, step: Transition, clock: Params
    ) -> Recovered | None:
        """End the job's open attempt as `worker lost`; ``step`` sends it to failed or dead."""
        from queuectl.transitions import LOST_ATTEMPT  # the pool's policy, not every command's

        # No output: what the attempt saved while it ran stays as it is.
        params = {**end_params(job, job.worker, LOST_ATTEMPT, step), "output": None,
                  "dropped": None, **clock}
        done, _ = self._end_attempt(conn, job, params, step, None, wake=False)
        return None if done is None else Recovered(job.id, job.worker, step.state)
