"""How a worker calls its store through outages and stalls: retried until the store answers
(a worker outlives a store restart), with a backoff that never outgrows a heartbeat interval,
and a note of since when the store has answered without failing or stalling.

That note is why silence is judged fairly: only silence watched for a whole lease counts
(pool/recovery.py), so an outage that silences every worker alike never makes a worker that
holds a job look lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from queuectl.errors import StoreUnavailable

STORE_RETRY_MAX = 5.0  # seconds: longest wait between retries while the store is down
# A store call that took longer than this (seconds) was a stall, as good as an outage.
STALL = 1.0

T = TypeVar("T")

log = logging.getLogger("queuectl.worker")


def outage_fields(exc: StoreUnavailable, job_id: str | None = None) -> dict[str, object]:
    """The fields of a log record about a store outage (see pool/log.py)."""
    fields: dict[str, object] = {"event": "store_unavailable", "error": str(exc)}
    if job_id is not None:
        fields["job"] = job_id
    return fields


class StoreCalls:
    """``must_raise``: a failure is raised at once, never retried (stopping hard, or inside a
    running job's check, whose loop must keep draining the pipe and enforcing the timeout);
    ``nap``: sleep that long, waking for a signal or the supervisor; ``ceiling``: the
    longest wait between retries (seconds); ``monotonic``: the clock (seconds) that times
    calls and ``watched_since``."""

    def __init__(self, must_raise: Callable[[], bool], nap: Callable[[float], None],
                 ceiling: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._must_raise = must_raise
        self._nap = nap
        self._ceiling = ceiling
        self.monotonic = monotonic
        # Since when (monotonic) the store has answered without failing or stalling.
        self.watched_since = monotonic()

    def call(self, call: Callable[[], T]) -> T:
        """One store call, noting a failure or a stall."""
        began = self.monotonic()
        try:
            answer = call()
        except StoreUnavailable:
            self.watched_since = self.monotonic()
            raise
        if (ended := self.monotonic()) - began > STALL:
            self.watched_since = ended
        return answer

    def retrying(self, call: Callable[[], T]) -> T:
        """Call the store until it answers (unless ``must_raise``)."""
        delay = 0.1
        while True:
            try:
                return self.call(call)
            except StoreUnavailable as exc:
                if self._must_raise():
                    raise
                if not exc.quiet:  # (quiet: another worker of the pool said it)
                    log.warning("store unavailable (%s); retrying in %.1fs", exc, delay,
                                extra=outage_fields(exc))
                self._nap(delay)
                delay = self.backoff(delay)

    def backoff(self, delay: float) -> float:
        """Doubled, up to STORE_RETRY_MAX but never past the ceiling (a heartbeat interval:
        once the store is back, a job's end is recorded well before anyone may judge its
        worker)."""
        return min(delay * 2, STORE_RETRY_MAX, self._ceiling())
