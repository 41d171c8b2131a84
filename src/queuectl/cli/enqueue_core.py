"""What `enqueue` does once its arguments are parsed.

Shared by the click command (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so the two behave the same by construction: same validation, same store calls, same output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from queuectl import output, specs
from queuectl.errors import InvalidValue, QueuectlError
from queuectl.models import JobSpec
from queuectl.settings import Config
from queuectl.storage.base import Storage


def enqueue(store: Storage, defaults: dict[str, Any], job_json: str | None,
            read_file: Callable[[], str] | None, as_json: bool) -> None:  # fmt: skip
    """Validate every job (flags in ``defaults``, overridden by the JSON fields), insert them
    in one transaction, print the ids (or the jobs with ``as_json``)."""
    config = Config.from_stored(store.config_items())
    base = os.getcwd()
    if read_file is not None:
        specs.check_defaults(defaults, config, base)
        batch = _file_specs(read_file(), defaults, config, base)
    else:
        fields = specs.parse_object(job_json) if job_json is not None else {}
        batch = [specs.build_spec({**defaults, **fields}, config, base)]
    if as_json:
        docs = [job.to_dict() for job in store.enqueue(batch)]
        output.emit_json(docs if read_file is not None else docs[0])
    else:
        sys.stdout.write("".join(job_id + "\n" for job_id in store.enqueue_ids(batch)))


def _file_specs(text: str, defaults: dict[str, Any], config: Config, base: str) -> list[JobSpec]:
    checked = specs.utf8_checked_batch(text, defaults)
    batch = []
    for label, fields in specs.parse_batch(text):
        try:
            merged = {**defaults, **fields} if defaults else fields
            batch.append(specs.build_spec(merged, config, base, utf8_checked=checked))
        except QueuectlError as exc:
            raise InvalidValue(f"{label}: {exc}") from None
    return batch
