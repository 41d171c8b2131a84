"""The application layer (queuectl/app) in process, on both stores: what every front end
gets from it (the CLI, `run`, the dashboard and ``Queue`` only print or answer it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuectl import submit
from queuectl.app import control, documents
from queuectl.app import enqueue as submitting
from queuectl.app.store import Storage, open_store
from queuectl.errors import (
    DependencyRefused,
    DuplicateJob,
    InvalidJob,
    InvalidValue,
    JobNotFound,
    NoOutput,
    ScheduleNotFound,
    StoreUnavailable,
    UsageError,
    WrongState,
)
from queuectl.models import State


def _store_of(store: Storage) -> submitting.StoreOf:
    return lambda create: store


def _file(store: Storage, *entries: dict[str, object]) -> submit.Batch:
    """The batch a jobs file of these entries gives ("line 1", "line 2", ...)."""
    labelled = [(f"line {n}", fields) for n, fields in enumerate(entries, 1)]
    batch, _ = submitting.checked(_store_of(store), lambda where: submit.batch(labelled, where))
    return batch


def test_jobs_are_checked_then_inserted_in_order(store: Storage) -> None:
    batch, found = submitting.checked(
        _store_of(store), lambda where: submit.single({"command": "true", "id": "a"}, where))
    assert found is store
    assert [job.id for job in submitting.insert(store, batch)] == ["a"]
    ids = submitting.insert_ids(store, _file(store, {"command": "true", "id": "b"},
                                             {"command": "true", "after": ["b"]}))
    assert ids[0] == "b" and len(ids) == 2
    assert documents.job_with_attempts(store, ids[1]).after == ("b",)


def test_a_refused_entry_of_a_file_is_named_by_its_line(store: Storage) -> None:
    submitting.insert(store, _file(store, {"command": "true", "id": "x"}))
    refused = _file(store, {"command": "true"}, {"command": "true", "after": ["nope"]})
    with pytest.raises(InvalidJob, match=r"^line 2: cannot run after 'nope': no such job"):
        submitting.insert(store, refused)
    twice = _file(store, {"command": "true", "id": "y"}, {"command": "true", "id": "x"})
    with pytest.raises(InvalidJob, match=r"^line 2: .*'x'"):
        submitting.insert_ids(store, twice)
    with pytest.raises(DuplicateJob):  # Queue's promise: an existing id stays DuplicateJob
        submitting.insert(store, twice, name_duplicates=False)
    assert [job.id for job in documents.list_jobs(store)] == ["x"]  # nothing else written


def test_a_single_jobs_refusal_passes_through_unlabelled(store: Storage) -> None:
    batch, _ = submitting.checked(
        _store_of(store), lambda where: submit.single({"command": "true", "after": ["z"]}, where))
    with pytest.raises(DependencyRefused, match=r"^cannot run after 'z'"):
        submitting.insert(store, batch)


def test_a_refused_job_creates_no_store(tmp_path: Path) -> None:
    url = str(tmp_path / "none" / "q.db")
    opened: list[Storage] = []

    def store_of(create: bool) -> Storage:
        opened.append(open_store(url, create=create))
        return opened[-1]

    with pytest.raises(InvalidValue):
        submitting.checked(store_of, lambda where: submit.single({"command": ""}, where))
    assert not (tmp_path / "none").exists() and not opened
    batch, store = submitting.checked(
        store_of, lambda where: submit.single({"command": "true"}, where))
    try:
        assert len(submitting.insert(store, batch)) == 1
    finally:
        store.close()


def test_unique_key_taken_gives_the_holder_marked_duplicate(store: Storage) -> None:
    first = _file(store, {"command": "true", "id": "u1", "unique_key": "k"})
    submitting.insert(store, first)
    again = submitting.insert(store, _file(store, {"command": "true", "unique_key": "k"}))
    assert [job.id for job in again] == ["u1"] and again[0].duplicate
    assert documents.enqueued_docs(again)[0]["duplicate"] is True
    assert "duplicate" not in documents.job_docs(again)[0]


def test_reads_and_their_documents(store: Storage) -> None:
    submitting.insert(store, _file(store, {"command": "true", "id": "job-a"},
                                   {"command": "true", "id": "job-b", "queue": "q"}))
    assert documents.status(store)["counts"]["pending"] == 2
    assert documents.status(store) == documents.stats(store).to_dict()
    assert [j.id for j in documents.list_jobs(store, queue="q")] == ["job-b"]
    assert [j.id for j in documents.list_jobs(store, limit=1, offset=1)] == ["job-a"]
    assert [j.id for j in documents.list_jobs(store, id_contains="-b")] == ["job-b"]
    assert sorted(info.name for info in documents.queues(store)) == ["default", "q"]
    assert documents.workers(store) == [] and documents.schedules(store) == []
    assert documents.job_with_attempts(store, "job-a").attempts_log == ()
    with pytest.raises(JobNotFound):
        documents.job_with_attempts(store, "nope")
    assert documents.output_of(store, "job-a", None) is None
    with pytest.raises(NoOutput, match="has not run yet"):
        documents.output_ran(store, "job-a", None)
    with pytest.raises(NoOutput, match="has no attempt 3"):
        documents.output_ran(store, "job-a", 3)
    with pytest.raises(InvalidValue, match="invalid state 'bogus'"):
        documents.parse_state("bogus")
    jobs, done = documents.wait_for(lambda: documents.jobs_now(store, ["job-a"]), 0)
    assert not done and jobs[0].state is State.PENDING


def test_job_actions(store: Storage) -> None:
    submitting.insert(store, _file(store, {"command": "true", "id": "c"}))
    [cancelled] = control.cancel(store, ("c",))
    assert cancelled.state is State.CANCELLED
    assert control.unconfirmed_kills(store, [cancelled], 1.0) == []  # it never ran
    with pytest.raises(WrongState):
        control.cancel(store, ["c"])
    with pytest.raises(WrongState):
        control.retry_dead(store, ["c"])
    assert control.retry_dead(store, None) == [] and control.dead_left(store) == 0
    assert control.purge(store, [], 3600.0) == 0  # finished just now: kept


def test_queue_actions_are_checked_before_any_store(store: Storage) -> None:
    with pytest.raises(InvalidValue, match="invalid limit -1"):
        control.queue_action("q", "limit", "-1")
    with pytest.raises(UsageError):
        control.queue_action("q", "limit", "many")
    with pytest.raises(InvalidValue, match="invalid queue name"):
        control.queue_action("", "pause")
    change = control.queue_action("q", "limit", "3")(store)
    assert control.queue_doc(change.after) == {"name": "q", "paused": False, "limit": 3,
                                               "rate": None, "window": None, "tz": None}
    change = control.queue_action("q", "pause")(store)
    assert change.after.paused and not change.before.paused
    assert control.queue_action("q", "resume")(store).after.paused is False


def test_schedule_actions(store: Storage) -> None:
    with pytest.raises(ScheduleNotFound):
        control.cron_act(store, "nightly", "run")
    with pytest.raises(ScheduleNotFound):
        control.cron_paused(store, "nightly", True)
    with pytest.raises(ScheduleNotFound):
        control.cron_remove(store, "nightly")
    assert control.stop_workers(store) == []  # none registered


def test_a_named_store_that_is_missing_is_not_made_to_read(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        open_store(str(tmp_path / "missing.db"), create=False)
    assert not (tmp_path / "missing.db").exists()
