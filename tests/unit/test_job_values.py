"""The fast Job constructors build what Job's own __init__ and dataclasses.replace build."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from queuectl.models import JOB_FIELDS, Job, State, job_from_values, replaced_job
from queuectl.snapshots import Snapshot
from queuectl.storage.rows import CLAIMED_COLUMNS, claimed_job, job_from_row

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 3, 4, 6, 1000, tzinfo=UTC)
SNAPSHOT = Snapshot("a" * 40, "b" * 40, True, 1234, "sub/dir")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _row() -> dict[str, Any]:
    """A job row whose every column differs from the defaults and from each other."""
    ms = _ms
    return {"id": "j1", "command": "echo hi", "state": "processing", "attempts": 2,
            "max_retries": 5, "priority": 7, "timeout": 9.5, "queue": "q", "run_at": ms(T0),
            "created_at": ms(T0) - 1000, "updated_at": ms(T1), "started_at": ms(T1) - 5,
            "finished_at": ms(T1) + 5, "exit_code": 3, "last_error": "boom", "worker": "w",
            "cwd": "/tmp", "env": json.dumps({"A": "1"}), "runs": 3, "cron": "nightly",
            "unique_key": "k", "rerun_of": "j0", "held": 1, "tags": json.dumps(["a", "b"]),
            "success_exit": json.dumps([2, "64-78"]), "no_retry_exit": None,
            "deadline": 7.5, "expires_at": None, "deadline_at": ms(T1) + 9,
            "hook": json.dumps({"name": "h", "event": "dead", "job": "j0"}),
            "snapshot": SNAPSHOT.to_column()}


def test_job_from_row_matches_the_keyword_constructor() -> None:
    row = _row()
    ms = _at
    expected = Job(
        id="j1", command="echo hi", state=State.PROCESSING, attempts=2, max_retries=5,
        priority=7, timeout=9.5, queue="q", run_at=ms(row["run_at"]),
        created_at=ms(row["created_at"]), updated_at=ms(row["updated_at"]),
        started_at=ms(row["started_at"]), finished_at=ms(row["finished_at"]), exit_code=3,
        last_error="boom", worker="w", cwd="/tmp", env={"A": "1"}, last_attempt=3,
        cron="nightly", unique_key="k", rerun_of="j0", held=True, tags=("a", "b"),
        success_exit=(2, "64-78"), deadline=7.5, deadline_at=ms(row["deadline_at"]),
        hook={"name": "h", "event": "dead", "job": "j0"}, snapshot=SNAPSHOT,
    )
    job = job_from_row(row)
    assert job == expected
    assert type(job) is Job
    assert all(getattr(job, name) == getattr(expected, name) for name in JOB_FIELDS)


def test_job_from_values_checks_the_count_and_stays_frozen() -> None:
    job = job_from_row(_row())
    with pytest.raises(ValueError):
        job_from_values((1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = State.COMPLETED  # type: ignore[misc]


def test_replaced_job_is_dataclasses_replace() -> None:
    job = job_from_row(_row())
    changes = {"state": State.COMPLETED, "attempts": 3, "finished_at": T1, "exit_code": 0,
               "last_error": None}
    new = replaced_job(job, **changes)
    assert new == dataclasses.replace(job, **changes)  # type: ignore[arg-type]
    assert job.state is State.PROCESSING  # the original is untouched
    with pytest.raises(TypeError):
        replaced_job(job, no_such_field=1)


def test_claimed_job_reads_the_claimed_columns_as_job_from_row() -> None:
    row = _row()
    values = tuple(row[name] for name in CLAIMED_COLUMNS)
    assert claimed_job(values) == job_from_row(row)
    assert claimed_job(values).state is State.PROCESSING
    no_env = {**row, "env": None, "started_at": None, "finished_at": None, "snapshot": None}
    assert claimed_job(tuple(no_env[name] for name in CLAIMED_COLUMNS)) == job_from_row(no_env)


def test_job_from_row_reads_the_gpus_asked_for_and_given() -> None:
    """(Never on a claimed row: an ordinary claim never takes a GPU job, and a GPU pool's
    claim reads the whole row.)"""
    job = job_from_row({**_row(), "gpus": 2, "gpus_assigned": json.dumps([1, 3])})
    assert job.gpus == 2 and job.gpus_assigned == (1, 3)
    assert job.to_dict()["gpus"] == 2 and job.to_dict()["gpus_assigned"] == [1, 3]
    plain = job_from_row(_row())
    assert plain.gpus is None and plain.gpus_assigned is None
