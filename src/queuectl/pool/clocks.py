"""The clocks a worker reads beside its store's: given, a test moves them on with the store's
instead of sleeping out a lease (the store's own clock is its ``clock``; see
storage/__init__.py open_store)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from queuectl.pool.recovery import boot_clock_ms


@dataclass(frozen=True)
class Clocks:
    """``monotonic`` (seconds): how long the worker has watched the store answer, which
    says when it may judge another worker's silence (pool/store_calls.py); ``boot_ms``
    (ms): the clock that never steps, against which a step of the store's clock is told
    (pool/recovery.py). A test that moves the store's clock moves both by as much, or its
    move would read as a step of the store's clock and be undone."""

    monotonic: Callable[[], float] = time.monotonic
    boot_ms: Callable[[], int] = boot_clock_ms
