"""Putting jobs on the queue: the one way in for `enqueue`, `rerun`, `edit`, `run` and
``Queue``.

Every job is built and checked by submit.py before the store is touched, against an
existing store's config or, when the store is missing, the config a new one starts with;
only then is a missing store made, so a refused job leaves none behind. The store then
inserts the jobs in one transaction or none, and a refusal of one entry of a batch is
named by that entry ("line 3: ...", "entry 2: ...") here, for every front end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from queuectl import submit
from queuectl.errors import (
    DependencyRefused,
    DuplicateJob,
    InvalidJob,
    JobNotFound,
    UsageError,
    WrongState,
)

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeVar

    from queuectl.models import Job, JobSpec
    from queuectl.storage.base import Storage

    T = TypeVar("T")

StoreOf = Callable[[bool], "Storage"]  # store_of(create): the store, made only with create
Build = Callable[[submit.Defaults], submit.Batch]  # the checked jobs, given their Defaults


def checked(store_of: StoreOf, build: Build) -> tuple[submit.Batch, Storage]:
    """The jobs ``build`` makes, checked, and the store to insert them in: an existing
    store's config resolves them; a missing store is made only once they pass. Raises what
    ``build`` raises (nothing is created then)."""
    fallback, found = submit.Defaults.found(store_of)
    batch = build(fallback)
    if any(spec.snapshot for spec in batch.specs):  # git is asked before a store is made
        from queuectl.app import snapshot

        snapshot.freeze(batch, fallback.config.max_snapshot_bytes)
    return batch, found if found is not None else store_of(True)


def insert(store: Storage, batch: submit.Batch, *, name_duplicates: bool = True) -> list[Job]:
    """Insert the batch in one transaction; the jobs in order (a job whose unique key is
    taken comes back as the job holding it, ``duplicate`` set). Refusals: see
    entries_named."""
    if not batch.specs:
        return []

    def put(ready: submit.Batch) -> list[Job]:
        with entries_named(ready, name_duplicates=name_duplicates):
            return store.enqueue(ready.specs)

    return _with_snapshots(store, batch, put)


def insert_ids(store: Storage, batch: submit.Batch) -> list[str]:
    """``insert`` for jobs without unique keys, returning only their ids (cheaper: no job
    is read back)."""

    def put(ready: submit.Batch) -> list[str]:
        with entries_named(ready):
            return store.enqueue_ids(ready.specs)

    return _with_snapshots(store, batch, put)


def _with_snapshots(store: Storage, batch: submit.Batch, put: Callable[[submit.Batch], T]) -> T:
    """``put(batch)``, the batch's snapshots (`--snapshot`, frozen by ``checked``) sent
    with it: only what the store lacks (app/snapshot.py)."""
    if not any(spec.frozen is not None for spec in batch.specs):
        return put(batch)
    from queuectl.app import snapshot

    return snapshot.stored(store, batch, put)


def rerun(store: Storage, job_id: str, given: Mapping[str, Any]) -> Job:
    """A new job from ended job ``job_id`` (completed, dead, cancelled): its command,
    priority, timeout, max_retries, queue, cwd, env, tags, mutex, gpus and policies, the ``given``
    fields (the enqueue flags) winning; never its id, dependencies, unique key or run_at, so it is
    due at once unless ``given`` says otherwise. The new job names ``job_id`` in
    ``rerun_of``. Raises JobNotFound, WrongState for a job that has not ended, or what
    enqueue refuses."""
    from dataclasses import replace

    from queuectl import specs
    from queuectl.models import FINAL_STATES

    job = store.get_job(job_id)
    if job is None:
        raise JobNotFound(job_id)
    if job.state not in FINAL_STATES:
        raise WrongState(job_id, str(job.state), "completed, dead or cancelled")
    batch = submit.single(specs.merge(job_fields(job), given), submit.Defaults.of(store))
    batch.specs[0] = replace(batch.specs[0], rerun_of=job_id)
    if batch.specs[0].snapshot or job.snapshot is not None:
        from queuectl.app import snapshot

        if batch.specs[0].snapshot:  # `rerun --snapshot`: the code as it is now
            snapshot.freeze(batch, submit.Defaults.of(store).config.max_snapshot_bytes)
        elif job.snapshot is not None:  # the ended job's own snapshot, stored already
            batch.specs[0] = replace(batch.specs[0], frozen=snapshot.kept(job.snapshot))
    return insert(store, batch)[0]


def job_fields(job: Job) -> dict[str, Any]:
    """A job's own fields as a JSON job gives them, those `rerun` copies and `edit` keeps:
    command, priority, timeout, max_retries, queue, cwd, env, tags, mutex, gpus and policies
    (not its id, dependencies, unique key, held or run_at)."""
    fields: dict[str, Any] = {
        "command": job.command, "priority": job.priority, "timeout": job.timeout or 0,
        "max_retries": job.max_retries, "queue": job.queue, "cwd": job.cwd,
    }
    if job.env:
        fields["env"] = job.env
    if job.tags:
        fields["tags"] = list(job.tags)
    if job.mutex:
        fields["mutex"] = job.mutex
    if job.gpus is not None:
        fields["gpus"] = job.gpus
    fields.update(policies(job))
    return fields


# The fields of a JSON job that `edit` changes; the others (id, after, unique_key, held)
# are the job's identity and links, which it keeps (hold and release change held).
EDITABLE = ("command", "priority", "timeout", "max_retries", "queue", "cwd", "env", "tags",
            "run_at", "delay", "success_exit", "no_retry_exit", "deadline", "expires_at",
            "gpus")


def edit(store: Storage, job_id: str, given: Mapping[str, Any]) -> Job:
    """Change the ``given`` fields (any of EDITABLE, as a JSON job gives them; ``env`` and
    ``tags`` replace the whole mapping / list) of waiting job ``job_id`` (pending or
    failed), checked as enqueue checks a job; the job, edited. The change is one guarded
    write: a worker's attempt runs the job as it was or as edited, never a mix. Raises
    UsageError (a field that cannot be edited, none given, a malformed value), InvalidValue
    (a value enqueue refuses), JobNotFound, WrongState (running or ended); nothing changes
    then."""
    from queuectl import specs
    from queuectl.models import READY_STATES

    given = {key: value for key, value in given.items() if value is not None}  # not given
    fixed = [key for key in given if key not in EDITABLE]
    if fixed:
        known = fixed[0] in specs.FIELDS
        raise UsageError(f"{fixed[0]} cannot be edited" if known else
                         f"unknown job field {fixed[0]!r}; editable: {', '.join(EDITABLE)}")
    if not given:
        raise UsageError(f"nothing to edit: give any of {', '.join(EDITABLE)}")
    job = store.get_job(job_id)
    if job is None:
        raise JobNotFound(job_id)
    if job.state not in READY_STATES:
        raise WrongState(job_id, str(job.state), "pending or failed")
    defaults = submit.Defaults.of(store)
    spec = specs.build_spec({**job_fields(job), **given}, defaults.config, defaults.base_cwd)
    return store.edit(job_id, _edited_columns(spec, given))


def _edited_columns(spec: JobSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The store's columns that the ``given`` fields change, with the checked values."""
    changes: dict[str, Any] = {}
    for key in given:
        if key in ("run_at", "delay"):
            changes["run_at"], changes["run_at_fixed"] = spec.run_at, spec.run_at_fixed
        else:
            changes[key] = getattr(spec, key)
    return changes


def policies(job: Job) -> dict[str, Any]:
    """The policy fields a job gives, as enqueue takes them (those it set only): not
    expires_at, a time (as run_at) that a rerun made later has most likely passed."""
    given: dict[str, Any] = {}
    if job.success_exit:
        given["success_exit"] = list(job.success_exit)
    if job.no_retry_exit:
        given["no_retry_exit"] = list(job.no_retry_exit)
    if job.deadline is not None:
        given["deadline"] = job.deadline
    return given


@contextmanager
def entries_named(batch: submit.Batch, *, name_duplicates: bool = True) -> Iterator[None]:
    """The store's refusal of one entry of a labelled batch (a file, a list of entries),
    raised as InvalidJob naming the entry: a dependency it refuses, and (with
    ``name_duplicates``) an id that exists already. A single job's refusal passes through
    unchanged (DependencyRefused, DuplicateJob)."""
    try:
        yield
    except DuplicateJob as exc:
        if name_duplicates and exc.job_id in batch.labels:
            raise InvalidJob(f"{batch.labels[exc.job_id]}: {exc}") from None
        raise
    except DependencyRefused as exc:
        if batch.lines:
            raise InvalidJob(f"{batch.lines[exc.index]}: {exc}") from None
        raise
