"""What both stores share: reading a job row, and where a job goes after an attempt.

Both stores keep times as integer epoch milliseconds and return rows that can be indexed
by column name (sqlite3.Row, psycopg's dict_row), so one mapping serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from queuectl.models import (
    Attempt,
    AttemptResult,
    Control,
    Job,
    Outcome,
    State,
    WorkerInfo,
    from_ms,
    to_ms,
)
from queuectl.storage.base import AttemptRow, FailurePolicy


def ms(value: Any) -> datetime:
    """A NOT NULL epoch-ms column as a datetime."""
    ts = from_ms(value)
    assert ts is not None
    return ts


def job_from_row(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"], command=row["command"], state=State(row["state"]),
        attempts=row["attempts"], max_retries=row["max_retries"], priority=row["priority"],
        timeout=row["timeout"], queue=row["queue"], run_at=ms(row["run_at"]),
        created_at=ms(row["created_at"]), updated_at=ms(row["updated_at"]),
        started_at=from_ms(row["started_at"]), finished_at=from_ms(row["finished_at"]),
        exit_code=row["exit_code"], last_error=row["last_error"], worker=row["worker"],
        cwd=row["cwd"], env=json.loads(row["env"]) if row["env"] else None, runs=row["runs"],
    )  # fmt: skip


def claimed_attempt(job: Job) -> dict[str, Any]:
    """The running attempt of a claimed job as both stores write its row when it ends
    (record_attempt): which one, when the job was due, when it started."""
    return {"id": job.id, "number": job.runs, "run_at": to_ms(job.run_at),
            "started_at": to_ms(job.started_at) if job.started_at else None}  # fmt: skip


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    """A row of the `attempts` query: job_id, number, worker, started_at, finished_at,
    exit_code, outcome, error."""
    return Attempt(
        job_id=row[0], number=row[1], worker=row[2], started_at=ms(row[3]),
        finished_at=from_ms(row[4]), exit_code=row[5],
        outcome=Outcome(row[6]) if row[6] else None, error=row[7],
    )  # fmt: skip


def worker_from_row(row: Sequence[Any]) -> WorkerInfo:
    """A row of the `all_workers` query: id, host, pid, state, current_job, started_at,
    heartbeat_at, queues (a JSON array)."""
    return WorkerInfo(
        id=row[0], host=row[1], pid=row[2], state=row[3], current_job=row[4],
        started_at=ms(row[5]), heartbeat_at=ms(row[6]), queues=json.loads(row[7]),
    )  # fmt: skip


def control_params(worker_id: str, job: Job | None) -> dict[str, Any]:
    """The control and heartbeat queries' parameters: the worker, and the attempt it runs."""
    return {"worker": worker_id, "job": job.id if job else None, "runs": job.runs if job else None}


def control_from_row(row: Sequence[Any], job: Job | None) -> Control:
    """A row of the control or heartbeat query: stop_requested (NULL: the worker's row is
    gone), whether the job's row still names this worker's attempt, another job it names."""
    return Control(stop=bool(row[0]), job_lost=job is not None and not row[1],
                   lost=row[0] is None, also_held=row[2])  # fmt: skip


def finished_attempt_from_row(row: Sequence[Any]) -> AttemptRow:
    """A row of the `finished_attempts` query (what metrics read)."""
    return AttemptRow(row[0], row[1], row[2], ms(row[3]), from_ms(row[4]), from_ms(row[5]))


@dataclass(frozen=True)
class Transition:
    """A job's next state after one attempt, as both stores write it."""

    state: State
    attempts: int
    delay_ms: int | None  # due again this long after the store's now; None keeps run_at
    error: str | None  # the job's new last_error

    @property
    def back_in_queue(self) -> bool:
        """Handed back to the queue: idle workers should claim it or re-plan their sleep."""
        return self.state in (State.PENDING, State.FAILED) and self.delay_ms is not None


def after_attempt(job: Job, result: AttemptResult, policy: FailurePolicy) -> Transition:
    """Pure: success completes, a cancel cancels, an interruption hands the job back without
    spending a retry, anything else is a failure for ``policy`` to place (failed or dead)."""
    if result.outcome is Outcome.SUCCEEDED:
        return Transition(State.COMPLETED, job.attempts + 1, None, None)
    if result.outcome is Outcome.CANCELLED:
        return Transition(State.CANCELLED, job.attempts + 1, None, result.error or "cancelled")
    if result.outcome is Outcome.INTERRUPTED:
        # Not the job's fault: hand it back without spending one of its retries.
        return Transition(State.PENDING, job.attempts, 0, result.error)
    step = policy(job)
    delay_ms = int(step.retry_in * 1000) if step.retry_in is not None else None
    return Transition(step.state, step.attempts, delay_ms, result.error)
