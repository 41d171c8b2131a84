"""Checkpoints the store from the pool's supervisor, so that no worker waits on them.

SQLite checkpoints its write-ahead log on the commit that grows it past
``wal_autocheckpoint`` pages, inside the committing process: with synchronous=NORMAL that
is two fsyncs and a copy of every page changed since the last one, which a worker sat out
between two jobs. Two workers draining `true` jobs spent ~14 % of their wall time so
(measured against synchronous=OFF, which skips those fsyncs and is not an option);
checkpointing from the otherwise idle supervisor every quarter second, with the workers'
threshold raised (sqlite_file.WAL_AUTOCHECKPOINT), gave ~7 % more jobs per second for the
same CPU. A store with nothing to fold (PostgreSQL's) is never opened here.
"""

from __future__ import annotations

import logging
import time

from queuectl.errors import QueuectlError
from queuectl.settings import is_postgres
from queuectl.storage.base import Storage

ACTIVE_EVERY = 0.25  # seconds between checkpoints while the workers write
IDLE_EVERY = 1.0  # seconds between looks at a store nobody wrote to since the last one
FAILED_EVERY = 10.0  # seconds before trying again after a failure

log = logging.getLogger("queuectl.supervisor")


class Checkpointer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.enabled = not is_postgres(url)  # the server checkpoints on its own
        self.store: Storage | None = None
        self.next_at = time.monotonic() + ACTIVE_EVERY

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
            busy = self.store.checkpoint()
        except QueuectlError as exc:
            log.warning("checkpoint failed (the workers will checkpoint instead): %s", exc)
            self.next_at = now + FAILED_EVERY
            return
        self.next_at = now + (ACTIVE_EVERY if busy else IDLE_EVERY)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
