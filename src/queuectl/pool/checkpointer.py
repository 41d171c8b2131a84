"""Checkpoints the store from the pool's supervisor, so that no worker waits on them.

SQLite checkpoints its write-ahead log on the commit that grows it past
``wal_autocheckpoint`` pages (1,000 by default), inside the committing process: with
synchronous=NORMAL that is two fsyncs and a copy of every page changed since the last one,
which a worker sat out between two jobs, a good part of the wall time of two workers
draining `true` jobs (measured against synchronous=OFF, which skips those fsyncs and is not
an option: bench/RESULTS.md). Here the supervisor, otherwise idle, checkpoints about every
1,000 pages as SQLite would, paced by how fast the WAL grew: at most 4 times a second under
a burst, at least every 2 seconds while anything is written (each checkpoint's fsync
competes with a durable `enqueue` commit, so checkpointing a trickle of jobs more often than
SQLite would delays their pickup). The workers' own threshold is raised above what a quarter
second of writes reaches (sqlite_file.WAL_AUTOCHECKPOINT), as a safety net. With 2 workers
draining `true` jobs and checkpoints taken from another process, the same CPU takes less
wall time (bench/RESULTS.md). A store with nothing to fold (one whose
``wants_checkpoints`` is False: a database server folds its own) is never opened here.
"""

from __future__ import annotations

import logging
import time

from queuectl.errors import QueuectlError
from queuectl.storage.base import Storage

PAGES_PER_CHECKPOINT = 1000  # SQLite's default wal_autocheckpoint
SOONEST = 0.25  # seconds: the shortest pause between checkpoints
LATEST = 2.0  # seconds: the longest pause while pages are being written
IDLE_LOOK = 1.0  # seconds between looks at a store nobody wrote to since the last one
AFTER_FAILURE = 10.0  # seconds before trying again after a failure

log = logging.getLogger("queuectl.supervisor")


def next_pause(pages: int, elapsed: float) -> float:
    """Pure: how long to wait before the next checkpoint, given that ``pages`` were written
    ahead in the last ``elapsed`` seconds: long enough for about PAGES_PER_CHECKPOINT more."""
    if pages <= 0:
        return IDLE_LOOK
    return min(LATEST, max(SOONEST, elapsed * PAGES_PER_CHECKPOINT / pages))


class Checkpointer:
    def __init__(self, url: str, kind: type[Storage]) -> None:
        """``kind``: the store's class (storage.store_type), asked whether it wants them."""
        self.url = url
        self.enabled = kind.wants_checkpoints
        self.store: Storage | None = None
        self.last_at = time.monotonic()
        self.next_at = self.last_at + SOONEST

    def due_at(self) -> float | None:
        """When `run_if_due` next has something to do (None: never)."""
        return self.next_at if self.enabled else None

    def run_if_due(self) -> None:
        now = time.monotonic()
        if not self.enabled or now < self.next_at:
            return
        try:
            if self.store is None:
                # Opened on first use, after the first workers are forked. Workers forked
                # later (restarts) inherit its descriptors and never touch them; SQLite
                # only forbids using a connection on both sides of a fork.
                from queuectl.storage import open_store

                self.store = open_store(self.url, durable=False)
            pages = self.store.checkpoint()
        except QueuectlError as exc:
            log.warning("checkpoint failed (the workers will checkpoint instead): %s", exc,
                        extra={"event": "checkpoint_failed", "error": str(exc)})
            self.next_at = now + AFTER_FAILURE
            return
        self.next_at = now + next_pause(pages, now - self.last_at)
        self.last_at = now  # pages counts what was written since the previous look

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
