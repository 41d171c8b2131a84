"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction. The jobs are checked and inserted by the
application layer (app/enqueue.py, which `run` and the Python API call too); this module
only reads the command line's jobs and prints the answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from queuectl import specs, submit
from queuectl.app import enqueue as submitting
from queuectl.errors import InvalidValue
from queuectl.settings import Config

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence

    from queuectl.app.store import Storage
    from queuectl.models import Job, JobSpec


def enqueue(store_of: Callable[[bool], Storage], defaults: dict[str, Any],
            job_json: str | None, read_file: Callable[[], str] | None, as_json: bool) -> None:
    """Validate every job (flags in ``defaults``, overridden by the JSON fields), insert them
    in one transaction, print the ids (or the jobs with ``as_json``). ``store_of(create)``
    opens the store, creating it only with ``create``: the jobs are checked against an
    existing store's config, or (the store is not there yet) against the config a new store
    starts with, and only then is a missing store created, so a refused enqueue leaves a
    named store uncreated."""
    if read_file is not None:
        # Whether a flag is valid does not depend on the stored config (it only fills in
        # what a job omits): the defaults will do.
        specs.check_defaults(defaults, Config.from_stored({}), specs.current_dir())
        text = read_file()
        entries = specs.parse_batch(text)
        if not entries:  # a script whose job list came out empty: say so, not exit 0 quietly
            raise InvalidValue("nothing to enqueue: the jobs file holds no job "
                               "(it is empty, or only blank lines, comments or [])")
        checked = specs.utf8_checked_batch(text, defaults)
        batch, store = submitting.checked(store_of, lambda fallback: submit.batch(
            entries, fallback, defaults=defaults, utf8_checked=checked))
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        batch, store = submitting.checked(
            store_of, lambda fallback: submit.single(specs.merge(defaults, fields), fallback))
    bulk = read_file is not None
    if not as_json and all(spec.unique_key is None for spec in batch.specs):
        ids = submitting.insert_ids(store, batch)  # the plain enqueue prints ids only
        sys.stdout.write("".join(job_id + "\n" for job_id in ids))
        return
    _print_enqueued(submitting.insert(store, batch), bulk, as_json, batch.specs)


def _print_enqueued(jobs: list[Job], bulk: bool, as_json: bool,
                    given: Sequence[JobSpec]) -> None:
    """The jobs enqueued, as ids or JSON (one document, or a list for a file). A job whose
    unique key was taken was not enqueued: the job holding the key is printed in its place
    (``"duplicate": true`` in JSON), and one line on stderr says so. Still a success."""
    from queuectl import output
    from queuectl.app.documents import enqueued_docs

    for job, spec in zip(jobs, given, strict=True):
        if job.duplicate:
            output.note(duplicate_note(job, spec))
    if as_json:
        docs = enqueued_docs(jobs)
        output.emit_json(docs if bulk else docs[0])
    else:
        sys.stdout.write("".join(job.id + "\n" for job in jobs))


def duplicate_note(job: Job, spec: JobSpec) -> str:
    """The line that says what a duplicate of a unique key did to the job holding it."""
    head = f"job {job.id} ({job.state}) already has unique key {job.unique_key!r}"
    if job.state not in ("pending", "failed"):
        return f"{head}: nothing enqueued"
    done = []
    if spec.on_duplicate == "replace":
        done.append("replaced its fields")
    if spec.debounce_ms:
        from queuectl.timeparse import format_duration

        done.append(f"due {format_duration(spec.debounce_ms / 1000)} from now")
    return f"{head}: {', '.join(done) or 'nothing enqueued'}"
