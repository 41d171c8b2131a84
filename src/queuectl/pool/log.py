"""The worker pool's log: its two formats, and the one line per job written straight to it.

``text`` (the default): every record is `TIME LEVEL [PID] MESSAGE` on stderr (the
terminal, or the store's pool log when detached: supervisor.log_path). ``json``: one JSON
object per record, for log shippers: ``ts`` (UTC, ISO 8601 with milliseconds), ``level``,
``pid``, ``worker`` (the worker's id; null in the supervisor), ``event`` (what happened,
a stable name: ``job_started``, ``job_finished``, ``worker_started``...), ``message`` (the
text line's message), and what the record carries beside (``job``, ``state``, ``took_s``,
``error``, ``exit_code``...). Both are written by the logging machinery: each format is a
logging.Formatter, so a handler of the user's own gets the same records.

A worker writes one line per job; through `Logger.info` (record, filters, handler lock,
formatter, then the write) that line was a visible share of the worker's CPU per `true` job
(bench/RESULTS.md). `JobLines` writes the same text line in a fraction of that, and only
when the pool's own text handler is the one that would have written it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from queuectl.models import AttemptResult, Job, iso

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(message)s"
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
DEFAULT_EVENT = "log"  # a record that names no event of its own

# This process's worker id, for every JSON record it writes (a worker is a process).
_worker_id: str | None = None


def set_worker(worker_id: str | None) -> None:
    """Name the worker this process is, in the ``worker`` field of its JSON records."""
    global _worker_id
    _worker_id = worker_id


def configure_logging(log_format: LogFormat = "text") -> None:
    # What a record gathers but the format never shows (caller's file and line, thread,
    # multiprocessing name) is not gathered: the logging HOWTO's "Optimization".
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


# What every LogRecord has of its own: anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"]
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring for its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "pid": record.process,
            "worker": _worker_id,
            "event": DEFAULT_EVENT,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        # A value JSON cannot hold (an enum member, a path) is written as its text.
        return json.dumps(doc, ensure_ascii=False, default=str)


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
        try:
            self.stream.write(f"{self.stamp(time.time())} INFO [{self.pid}] {message}\n")
            self.stream.flush()
        except OSError:
            # The log's terminal went away (a closed terminal: EIO) or its disk is full:
            # the job goes on, as logging's own handlers go on (Handler.handleError).
            pass


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


COMMAND_SHOWN = 80  # characters of a job's command in its "started" line


def shown_command(command: str) -> str:
    """A command as one log line shows it: control characters (a newline, an escape) as
    escapes, cut to COMMAND_SHOWN characters with "..." when longer."""
    # Nearly every command is printable as it is: one C call instead of a generator step
    # per character, on the hot path (a "started" line per job).
    if command.isprintable():
        text = command
    else:
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in command)
    return text if len(text) <= COMMAND_SHOWN else text[: COMMAND_SHOWN - 3] + "..."


def say_started(lines: JobLines | None, job: Job) -> None:
    """A job's start: one line (``lines`` as in say_finished), with its attempt number and
    its command shortened (in the JSON record's ``command`` too: a command may be 128 KiB)."""
    command = shown_command(job.command)
    if lines is not None:
        lines(f"job {job.id} started (attempt {job.last_attempt}): {command}")
        return
    logging.getLogger("queuectl.worker").info(
        "job %s started (attempt %d): %s", job.id, job.last_attempt, command,
        extra={"event": "job_started", "job": job.id, "attempt": job.last_attempt,
               "command": command})


def say_finished(lines: JobLines | None, job: Job, final: Job, took: float,
                 result: AttemptResult) -> None:
    """A finished job's one line (``took``: seconds): written straight by ``lines`` when
    the text format allows (job_lines), otherwise a record carrying the fields a log
    shipper reads."""
    error = f" ({result.error})" if result.error else ""
    if lines is not None:
        lines(f"job {job.id} {final.state} after {took:.3f}s{error}")
        return
    logging.getLogger("queuectl.worker").info(
        "job %s %s after %.3fs%s", job.id, final.state, took, error,
        extra={"event": "job_finished", "job": job.id, "state": str(final.state),
               "attempt": job.last_attempt, "took_s": round(took, 3),
               "exit_code": result.exit_code, "error": result.error})
