"""Errors a user can cause or meet; each maps to one line on stderr and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # a failed operation: unknown job, wrong state, invalid value, store down
EXIT_USAGE = 2  # unknown flag, malformed arguments
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class QueuectlError(Exception):
    """Base of every error that is the user's to read (never a traceback)."""

    exit_code = EXIT_FAILURE


class InvalidValue(QueuectlError):
    """A value is malformed or out of range (a job field, a config value)."""


class UsageError(QueuectlError):
    exit_code = EXIT_USAGE


class JobNotFound(QueuectlError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id


class DuplicateJob(QueuectlError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} already exists")
        self.job_id = job_id


class WrongState(QueuectlError):
    def __init__(self, job_id: str, state: str, wanted: str) -> None:
        super().__init__(f"job {job_id!r} is {state}, not {wanted}")
        self.job_id = job_id
        self.state = state


class StoreUnavailable(QueuectlError):
    """The store cannot be opened or reached (bad path, not a database, server down)."""


class LostLease(QueuectlError):
    """A worker tried to finish a job it no longer holds (recovered or cancelled)."""
