"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction: same validation, same store calls, same output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from queuectl import output, specs
from queuectl.errors import DuplicateJob, InvalidValue, QueuectlError
from queuectl.models import JobSpec
from queuectl.settings import Config
from queuectl.storage.base import Storage


def enqueue(store: Storage, defaults: dict[str, Any], job_json: str | None,
            read_file: Callable[[], str] | None, as_json: bool) -> None:  # fmt: skip
    """Validate every job (flags in ``defaults``, overridden by the JSON fields), insert them
    in one transaction, print the ids (or the jobs with ``as_json``)."""
    config = Config.from_stored(store.config_items())
    base = specs.current_dir()
    labels: dict[str, str] = {}  # a bulk entry's id -> its line, for the store's refusals
    if read_file is not None:
        specs.check_defaults(defaults, config, base)
        batch, labels = _file_specs(read_file(), defaults, config, base)
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        batch = [specs.build_spec({**defaults, **fields}, config, base)]
    try:
        if any(spec.unique_key is not None for spec in batch):
            _enqueue_unique(store, batch, read_file is not None, as_json)
        elif as_json:
            docs = [job.to_dict() for job in store.enqueue(batch)]
            output.emit_json(docs if read_file is not None else docs[0])
        else:
            sys.stdout.write("".join(job_id + "\n" for job_id in store.enqueue_ids(batch)))
    except DuplicateJob as exc:
        if exc.job_id in labels:
            raise InvalidValue(f"{labels[exc.job_id]}: {exc}") from None
        raise


def _file_specs(text: str, defaults: dict[str, Any], config: Config,
                base: str | None) -> tuple[list[JobSpec], dict[str, str]]:  # fmt: skip
    """The file's jobs, and the line of each entry that names its id. Every refusal names
    the entry's line, a duplicate id inside the file both of its lines."""
    checked = specs.utf8_checked_batch(text, defaults)
    batch: list[JobSpec] = []
    labels: dict[str, str] = {}
    for label, fields in specs.parse_batch(text):
        try:
            merged = {**defaults, **fields} if defaults else fields
            spec = specs.build_spec(merged, config, base, utf8_checked=checked)
        except QueuectlError as exc:
            raise InvalidValue(f"{label}: {exc}") from None
        if spec.id is not None:
            if spec.id in labels:
                raise InvalidValue(f"{label}: job {spec.id!r} appears twice in the file "
                                   f"(also {labels[spec.id]})")  # fmt: skip
            labels[spec.id] = label
        batch.append(spec)
    return batch, labels


def _enqueue_unique(store: Storage, batch: list[JobSpec], bulk: bool, as_json: bool) -> None:
    """Enqueue jobs some of which have unique keys: a job whose key is taken is not
    enqueued; the job holding the key is printed in its place (``"duplicate": true`` in
    JSON), and one line on stderr says so. Still a success (exit 0)."""
    jobs = store.enqueue(batch)
    for job in jobs:
        if job.duplicate:
            output.note(f"job {job.id} ({job.state}) already has unique key "
                        f"{job.unique_key!r}: nothing enqueued")  # fmt: skip
    if as_json:
        docs = [{**job.to_dict(), "duplicate": True} if job.duplicate else job.to_dict()
                for job in jobs]  # fmt: skip
        output.emit_json(docs if bulk else docs[0])
    else:
        sys.stdout.write("".join(job.id + "\n" for job in jobs))
