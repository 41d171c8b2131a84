"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction: same validation, same store calls, same output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from queuectl import output, specs
from queuectl.errors import DependencyRefused, DuplicateJob, InvalidValue, QueuectlError
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
    lines: list[str] = []  # each bulk entry's line, in order
    if read_file is not None:
        specs.check_defaults(defaults, config, base)
        batch, labels, lines = _file_specs(read_file(), defaults, config, base)
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        batch = [specs.build_spec(specs.merge(defaults, fields), config, base)]
    try:
        if as_json:
            docs = [job.to_dict() for job in store.enqueue(batch)]
            output.emit_json(docs if read_file is not None else docs[0])
        else:
            sys.stdout.write("".join(job_id + "\n" for job_id in store.enqueue_ids(batch)))
    except DuplicateJob as exc:
        if exc.job_id in labels:
            raise InvalidValue(f"{labels[exc.job_id]}: {exc}") from None
        raise
    except DependencyRefused as exc:
        if lines:
            raise InvalidValue(f"{lines[exc.index]}: {exc}") from None
        raise


def _file_specs(text: str, defaults: dict[str, Any], config: Config,
                base: str | None) -> tuple[list[JobSpec], dict[str, str], list[str]]:  # fmt: skip
    """The file's jobs, the line of each entry that names its id, and every entry's line.
    Every refusal names the entry's line, a duplicate id inside the file both of its lines."""
    checked = specs.utf8_checked_batch(text, defaults)
    batch: list[JobSpec] = []
    labels: dict[str, str] = {}
    lines: list[str] = []
    for label, fields in specs.parse_batch(text):
        lines.append(label)
        try:
            merged = specs.merge(defaults, fields) if defaults else fields
            spec = specs.build_spec(merged, config, base, utf8_checked=checked)
        except QueuectlError as exc:
            raise InvalidValue(f"{label}: {exc}") from None
        if spec.id is not None:
            if spec.id in labels:
                raise InvalidValue(f"{label}: job {spec.id!r} appears twice in the file "
                                   f"(also {labels[spec.id]})")  # fmt: skip
            labels[spec.id] = label
        batch.append(spec)
    return batch, labels, lines
