"""Following a job's output through the store, as it is saved: `logs --follow` and `run`.

Only the store is read (never a worker's files or sockets), so it works from any machine
that shares a PostgreSQL store with the workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from queuectl import output
from queuectl.app.store import Storage
from queuectl.errors import InvalidValue
from queuectl.models import FINAL_STATES, Output

FOLLOW_POLL = 0.2  # seconds between reads while following a running attempt


def wait_for_attempt(store: Storage, job_id: str, attempt: int | None = None,
                     poll: float = FOLLOW_POLL) -> Output:
    """The output of ``attempt`` (None: the latest) once that attempt has started. Raises
    InvalidValue when the job reaches a final state without running it."""
    while True:
        out = store.read_output(job_id, attempt)
        if out is not None:
            return out
        job = store.get_job(job_id)
        if job is not None and job.state in FINAL_STATES:
            raise InvalidValue(f"job {job_id!r} ended without running")
        time.sleep(poll)


def stream(store: Storage, out: Output, poll: float = FOLLOW_POLL,
           write: Callable[[bytes], None] = output.write_output) -> None:
    """Write ``out`` (what the attempt has saved so far), then every byte it saves, until
    the attempt has ended."""
    if out.dropped:
        output.note(f"[{out.dropped} earlier bytes dropped: max-log-bytes]")
    write(out.data)
    seen, finished = out.dropped + len(out.data), out.finished
    while not finished:
        time.sleep(poll)
        now = store.read_output(out.job_id, out.attempt)
        if now is None:
            return
        start = seen - now.dropped
        if start < 0:  # the job outran us past max-log-bytes
            output.note(f"[{-start} bytes dropped: max-log-bytes]")
            start = 0
        write(now.data[start:])
        seen, finished = now.dropped + len(now.data), now.finished
