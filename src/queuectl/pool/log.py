"""The worker pool's log: its format, and the one line per job written straight to it.

Every record is `TIME LEVEL [PID] MESSAGE` on stderr (the terminal, or workers.log when
detached). A worker writes one line per job; through `Logger.info` that line cost ~36 µs
of the worker's CPU per `true` job, measured inside a running worker (record, filters,
handler lock, formatter, then the write), which is ~8 % of everything a worker spends on
such a job. `JobLines` writes the same line in ~a third of that, and only when the pool's
own handler is the one that would have written it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(message)s"


def configure_logging() -> None:
    # What a record gathers but the format never shows (caller's file and line, thread,
    # multiprocessing name) is not gathered: the logging HOWTO's "Optimization".
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


class SecondCachingFormatter(logging.Formatter):
    """The default asctime (local time, comma, milliseconds) with strftime run once per
    second instead of once per record."""

    _second = -1
    _prefix = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self.stamp(record.created)

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return f"{self._prefix},{int((created - second) * 1000):03d}"


class JobLines:
    """Writes `message` as an INFO record of ``logger`` would appear, without the record."""

    def __init__(self, handler: logging.StreamHandler[TextIO], formatter: SecondCachingFormatter):
        self.stream = handler.stream
        self.stamp = formatter.stamp
        self.pid = os.getpid()

    def __call__(self, message: str) -> None:
        self.stream.write(f"{self.stamp(time.time())} INFO [{self.pid}] {message}\n")
        self.stream.flush()


def job_lines(logger: logging.Logger) -> JobLines | None:
    """A `JobLines` when INFO records of ``logger`` go only to the pool's handler (set up by
    `configure_logging` in this process tree); otherwise None, and `logger.info` it is."""
    if not logger.isEnabledFor(logging.INFO) or logger.handlers or logger.filters:
        return None
    if not logger.propagate:
        return None
    root = logging.getLogger()
    if len(root.handlers) != 1 or root.filters:
        return None
    handler = root.handlers[0]
    formatter = handler.formatter
    if type(handler) is not logging.StreamHandler or handler.filters:
        return None
    if handler.level > logging.INFO:
        return None
    if not isinstance(formatter, SecondCachingFormatter) or formatter._fmt != LOG_FORMAT:
        return None
    parent = logger.parent
    while parent is not None and parent is not root:  # an intermediate logger's handlers
        if parent.handlers or not parent.propagate:
            return None
        parent = parent.parent
    return JobLines(handler, formatter)
