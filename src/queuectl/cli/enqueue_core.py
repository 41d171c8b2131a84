"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction: same validation (submit.py, which the Python
API uses too), same store calls, same output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from queuectl import specs, submit
from queuectl.errors import DependencyRefused, DuplicateJob, InvalidValue
from queuectl.settings import Config

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from queuectl.models import JobSpec
    from queuectl.storage.base import Storage


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
        where, found = submit.Where.found(store_of)
        checked = specs.utf8_checked_batch(text, defaults)
        batch = submit.batch(entries, where, defaults=defaults, utf8_checked=checked)
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        where, found = submit.Where.found(store_of)
        batch = submit.single(specs.merge(defaults, fields), where)
    store = found if found is not None else store_of(True)
    try:
        if any(spec.unique_key is not None for spec in batch.specs):
            _enqueue_unique(store, batch.specs, read_file is not None, as_json)
        elif as_json:
            from queuectl import output  # the plain enqueue prints ids only

            docs = [job.to_dict() for job in store.enqueue(batch.specs)]
            output.emit_json(docs if read_file is not None else docs[0])
        else:
            sys.stdout.write("".join(job_id + "\n" for job_id in store.enqueue_ids(batch.specs)))
    except DuplicateJob as exc:
        if exc.job_id in batch.labels:  # name the line of the file that gave the id
            raise InvalidValue(f"{batch.labels[exc.job_id]}: {exc}") from None
        raise
    except DependencyRefused as exc:
        if batch.lines:  # name the entry of the file that the store refused
            raise InvalidValue(f"{batch.lines[exc.index]}: {exc}") from None
        raise


def _enqueue_unique(store: Storage, batch: list[JobSpec], bulk: bool, as_json: bool) -> None:
    """Enqueue jobs some of which have unique keys: a job whose key is taken is not
    enqueued; the job holding the key is printed in its place (``"duplicate": true`` in
    JSON), and one line on stderr says so. Still a success (exit 0)."""
    from queuectl import output

    jobs = store.enqueue(batch)
    for job in jobs:
        if job.duplicate:
            output.note(f"job {job.id} ({job.state}) already has unique key "
                        f"{job.unique_key!r}: nothing enqueued")
    if as_json:
        docs = [{**job.to_dict(), "duplicate": True} if job.duplicate else job.to_dict()
                for job in jobs]
        output.emit_json(docs if bulk else docs[0])
    else:
        sys.stdout.write("".join(job.id + "\n" for job in jobs))
