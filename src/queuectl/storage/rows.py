"""What both stores share: reading their rows into the models, and the parameters that
write them.

Both stores keep times as integer epoch milliseconds and return rows that can be indexed
by column name (sqlite3.Row, psycopg's dict_row), so one mapping serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from queuectl.models import (
    Attempt,
    AttemptResult,
    CheckIn,
    IdlePlan,
    Job,
    JobSpec,
    Outcome,
    State,
    WorkerInfo,
    from_ms,
    job_from_fields,
    job_from_values,
    to_ms,
)
from queuectl.snapshots import snapshot_from_column
from queuectl.storage.base import AttemptRow

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

    from queuectl.transitions import Transition


def ms(value: Any) -> datetime:
    """A NOT NULL epoch-ms column as a datetime."""
    ts = from_ms(value)
    assert ts is not None
    return ts


def job_from_row(row: Mapping[str, Any]) -> Job:
    # Every field in Job's declaration order (job_from_values: the hot path of a claim).
    return job_from_values((
        row["id"], row["command"], State(row["state"]), row["attempts"], row["max_retries"],
        row["priority"], row["timeout"], row["queue"], ms(row["run_at"]),
        ms(row["created_at"]), ms(row["updated_at"]), from_ms(row["started_at"]),
        from_ms(row["finished_at"]), row["exit_code"], row["last_error"], row["worker"],
        row["cwd"], json.loads(row["env"]) if row["env"] else None, row["runs"],
        _cron_of(row), row["unique_key"],
        False, None, (), (), None,  # duplicate, attempts_log, after, waiting_for, dependents
        _added(row, "rerun_of"), bool(_added(row, "held")), _tags(_added(row, "tags")),
        _added(row, "mutex"), _added(row, "gpus"), _gpu_list(_added(row, "gpus_assigned")),
        _codes(_added(row, "success_exit")), _codes(_added(row, "no_retry_exit")),
        _added(row, "deadline"), from_ms(_added(row, "expires_at")),
        from_ms(_added(row, "deadline_at")), _added(row, "snoozes") or 0,
        (), (),  # after_any, after_failure (read with the dependencies)
        _hook(_added(row, "hook")), snapshot_from_column(_added(row, "snapshot")),
        None,  # held_back (read with the job's history)
    ))


# The columns of a claim's row, in Job's field order (the claim queries of both stores return
# these, not every column): read by position, a claimed job is built without a name lookup
# per column, and the columns a Job has no field for are not sent.
CLAIMED_COLUMNS = ("id", "command", "state", "attempts", "max_retries", "priority", "timeout",
                   "queue", "run_at", "created_at", "updated_at", "started_at",
                   "finished_at", "exit_code", "last_error", "worker", "cwd", "env", "runs",
                   "cron", "unique_key", "rerun_of", "held", "tags", "success_exit",
                   "no_retry_exit", "deadline", "expires_at", "deadline_at", "hook",
                   "snapshot")
_STATES = {str(state): state for state in State}  # a dict lookup, not the enum's call


def claimed_job(row: Sequence[Any]) -> Job:
    """A row of CLAIMED_COLUMNS as a Job (as job_from_row reads the same columns). Only the
    fields a claim may set are given: the rest (and the policies, rarely set, when the job
    has none) are their defaults, which the Job reads from its class."""
    (job_id, command, state, attempts, max_retries, priority, timeout, queue, run_at,
     created_at, updated_at, started_at, finished_at, exit_code, last_error, worker, cwd,
     env, runs, cron, unique_key, rerun_of, held, tags, success_exit, no_retry_exit, deadline,
     expires_at, deadline_at, hook, snapshot) = row
    fields = {
        "id": job_id, "command": command, "state": _STATES[state], "attempts": attempts,
        "max_retries": max_retries, "priority": priority, "timeout": timeout, "queue": queue,
        "run_at": ms(run_at), "created_at": ms(created_at), "updated_at": ms(updated_at),
        "started_at": from_ms(started_at), "finished_at": from_ms(finished_at),
        "exit_code": exit_code, "last_error": last_error, "worker": worker, "cwd": cwd,
        "env": json.loads(env) if env else None, "last_attempt": runs, "cron": cron,
        "unique_key": unique_key, "rerun_of": rerun_of, "held": bool(held),
        "tags": _tags(tags),
        # not claimed: duplicate, attempts_log, after, waiting_for, dependents, mutex (a
        # worker runs a job without it), snoozes (the worker never reads it), after_any,
        # after_failure
    }
    if (success_exit or no_retry_exit or deadline is not None or expires_at is not None
            or deadline_at is not None or hook):
        fields.update(
            success_exit=_codes(success_exit), no_retry_exit=_codes(no_retry_exit),
            deadline=deadline, expires_at=None if expires_at is None else ms(expires_at),
            deadline_at=None if deadline_at is None else ms(deadline_at), hook=_hook(hook))
    if snapshot:
        fields["snapshot"] = snapshot_from_column(snapshot)
    return job_from_fields(fields)


def _tags(value: str | None) -> tuple[str, ...]:
    """The tags column (a JSON array, NULL: none) as the job's tags."""
    return tuple(json.loads(value)) if value else ()


def _codes(value: str | None) -> tuple[int | str, ...]:
    """An exit-code list column (a JSON array, NULL: none) as given."""
    return tuple(json.loads(value)) if value else ()


def _gpu_list(value: str | None) -> tuple[int, ...] | None:
    """The gpus_assigned column (a JSON array of GPU indexes, NULL: none given yet)."""
    return tuple(json.loads(value)) if value else None


def _hook(value: str | None) -> dict[str, str | None] | None:
    """The hook column (a JSON object, NULL: not a hook's job)."""
    return json.loads(value) if value else None


def _cron_of(row: Mapping[str, Any]) -> str | None:
    """The job's schedule: a row read through a function declared before the column was
    added (PostgreSQL keeps such a row type until the session ends) has none."""
    try:
        value: str | None = row["cron"]
    except (KeyError, IndexError):
        return None
    return value


def _added(row: Mapping[str, Any], column: str) -> Any:
    """A column added after the functions that return job rows were declared (a session
    that used one keeps its row type until it ends: None then, as _cron_of)."""
    try:
        return row[column]
    except (KeyError, IndexError):
        return None


def claimed_attempt(job: Job) -> dict[str, Any]:
    """The running attempt of a claimed job as both stores write its row when it ends
    (SQLite's record_attempt, PostgreSQL's queuectl_finish): which one, when the job was
    due, when it started."""
    return {"id": job.id, "number": job.last_attempt, "run_at": to_ms(job.run_at),
            "started_at": to_ms(job.started_at) if job.started_at else None}


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    """A row of the `attempts` query: job_id, number, worker, started_at, finished_at,
    exit_code, outcome, error."""
    return Attempt(
        job_id=row[0], number=row[1], worker=row[2], started_at=ms(row[3]),
        finished_at=from_ms(row[4]), exit_code=row[5],
        outcome=Outcome(row[6]) if row[6] else None, error=row[7],
    )


def worker_from_row(row: Sequence[Any]) -> WorkerInfo:
    """A row of the `all_workers` query: id, host, pid, state, current_job, started_at,
    heartbeat_at, queues (a JSON array), ..., and last, pid_scope."""
    return WorkerInfo(
        id=row[0], host=row[1], pid=row[2], state=row[3], current_job=row[4],
        started_at=ms(row[5]), heartbeat_at=ms(row[6]), queues=json.loads(row[7]),
        pid_scope=row[-1],
    )


def check_in_params(worker_id: str, job: Job | None) -> dict[str, Any]:
    """The check_in and heartbeat queries' parameters: the worker, and the attempt it runs."""
    return {"worker": worker_id, "job": job.id if job else None,
            "runs": job.last_attempt if job else None}


def check_in_from_row(row: Sequence[Any], job: Job | None) -> CheckIn:
    """A row of the check_in or heartbeat query: stop_requested (NULL: the worker's row is
    gone), whether the job's row still names this worker's attempt, another job it names,
    and the stored config as a JSON object (text on SQLite, decoded by psycopg)."""
    config = json.loads(row[3]) if isinstance(row[3], str) else row[3]
    return CheckIn(stop=bool(row[0]), job_lost=job is not None and not row[1],
                   lost=row[0] is None, also_held=row[2], config=config)


def finished_attempt_from_row(row: Sequence[Any]) -> AttemptRow:
    """A row of the `finished_attempts` query (what metrics read)."""
    return AttemptRow(row[0], row[1], row[2], ms(row[3]), from_ms(row[4]), from_ms(row[5]))


def end_params(
    job: Job, worker: str | None, result: AttemptResult, step: Transition
) -> dict[str, Any]:
    """The parameters that end a claimed attempt: the attempt as claimed (claimed_attempt),
    how it ended (exit_code, outcome, attempt_error, output, dropped) and where the job
    goes (state, attempts, delay_ms: due again that many ms from now, None keeps run_at;
    error: the job's last_error)."""
    return {
        **claimed_attempt(job), "worker": worker, "state": str(step.state),
        "attempts": step.attempts, "delay_ms": step.delay_ms, "exit_code": result.exit_code,
        "outcome": str(result.outcome), "attempt_error": result.error, "error": step.error,
        "output": result.output, "dropped": result.output_dropped,
    }


def inserted_job(spec: JobSpec, job_id: str, created: datetime) -> Job:
    """The job as inserted, built without reading it back (enqueue is a hot path): every
    column not given is its default."""
    assert spec.max_retries is not None
    return Job(
        id=job_id, command=spec.command, state=State.PENDING, attempts=0,
        max_retries=spec.max_retries, priority=spec.priority, timeout=spec.timeout,
        queue=spec.queue, run_at=created if spec.run_at is None else ms(to_ms(spec.run_at)),
        created_at=created, updated_at=created, cwd=spec.cwd, env=spec.env or None,
        rerun_of=spec.rerun_of, held=spec.held, tags=spec.tags, mutex=spec.mutex,
        gpus=spec.gpus,
        success_exit=spec.success_exit, no_retry_exit=spec.no_retry_exit,
        deadline=spec.deadline,
        expires_at=None if spec.expires_at is None else ms(to_ms(spec.expires_at)),
        snapshot=spec.frozen.snapshot if spec.frozen else None,
    )


def idle_plan(due_ms: Any, tick_ms: Any) -> IdlePlan:
    """next_due's answer (ms until the earliest claimable job is due, ms until the next
    tick; NULLs for none) as the worker's plan. A due job that a queue's limit holds back
    is not waited for: the end of a job of that queue wakes a worker (storage/queues.py)."""
    due = None if due_ms is None else max(0.0, int(due_ms) / 1000)
    from queuectl.storage.cron_flow import seconds_until  # schedules: the pool's, not a read's

    return IdlePlan(due, seconds_until(tick_ms))
