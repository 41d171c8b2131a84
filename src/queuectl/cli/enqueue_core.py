"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction: same validation (submit.py, which the Python
API uses too), same store calls, same output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from queuectl import output, specs, submit
from queuectl.errors import DependencyRefused, DuplicateJob, InvalidValue
from queuectl.storage.base import Storage


def enqueue(store: Storage, defaults: dict[str, Any], job_json: str | None,
            read_file: Callable[[], str] | None, as_json: bool) -> None:  # fmt: skip
    """Validate every job (flags in ``defaults``, overridden by the JSON fields), insert them
    in one transaction, print the ids (or the jobs with ``as_json``)."""
    where = submit.Where.of(store)
    if read_file is not None:
        specs.check_defaults(defaults, where.config, where.base_cwd)
        text = read_file()
        checked = specs.utf8_checked_batch(text, defaults)
        batch = submit.batch(specs.parse_batch(text), where, defaults=defaults,
                             utf8_checked=checked)  # fmt: skip
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        batch = submit.single(specs.merge(defaults, fields), where)
    try:
        if as_json:
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
