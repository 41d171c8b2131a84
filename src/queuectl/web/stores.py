"""Store access for the web app: a small pool, and calls moved off the event loop.

A Storage object holds one connection and is not thread-safe, while Starlette runs
blocking work on a pool of threads. Each call borrows a store of its own for its duration
and gives it back, so at most ``size`` stores are ever open and none is shared at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from queuectl.app.store import Storage, open_store
from queuectl.errors import InvalidValue, JobNotFound, WrongState

T = TypeVar("T")
POOL_SIZE = 4  # stores open at most; more concurrent calls wait for one
USER_ERRORS = (JobNotFound, WrongState, InvalidValue)


class StorePool:
    def __init__(self, url: str, size: int = POOL_SIZE) -> None:
        self.url = url
        self._idle: list[Storage] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def borrow(self) -> Iterator[Storage]:
        with self._slots:
            with self._lock:
                store = self._idle.pop() if self._idle else None
            if store is None:
                store = open_store(self.url)
            healthy = False
            try:
                yield store
                healthy = True
            except USER_ERRORS:
                healthy = True  # a refused operation leaves the connection as it was
                raise
            finally:
                if healthy:
                    with self._lock:
                        self._idle.append(store)
                else:
                    store.close()  # its connection may be in any state: do not reuse it

    def call(self, fn: Callable[[Storage], T]) -> T:
        """Run ``fn`` with a borrowed store, in the calling thread."""
        with self.borrow() as store:
            return fn(store)

    async def run(self, fn: Callable[[Storage], T]) -> T:
        """Run ``fn`` with a borrowed store on a worker thread: never blocks the loop."""
        return await run_in_threadpool(self.call, fn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()
