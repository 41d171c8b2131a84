"""Errors a user can cause or meet; each maps to one line on stderr and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # a well-formed request refused or failed: out of range, unknown job, store down
EXIT_USAGE = 2  # unknown flag, missing or conflicting arguments, a value not of its type
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class QueuectlError(Exception):
    """Base of every error that is the user's to read (never a traceback)."""

    exit_code = EXIT_FAILURE


class InvalidValue(QueuectlError, ValueError):
    """A well-formed value that is refused: out of range, empty, too big (a job field, a
    config value). A ValueError, as Python code that passes values expects."""


class InvalidJob(InvalidValue):
    """The Python API's refusal of a job (a ValueError): any field that `enqueue` refuses,
    whether the CLI calls it malformed (exit 2) or invalid (exit 1), with the CLI's words.
    Nothing is written when it is raised."""


class UsageError(QueuectlError):
    """The command line (or the JSON job) is not a request: a wrong shape or type, fields
    that exclude each other."""

    exit_code = EXIT_USAGE


class MalformedValue(UsageError):
    """A value that cannot be read as its type: not a number, not a duration, not a time.

    A usage error where the value is an argument; `config set` and the entries of a bulk
    file catch it and refuse the value as invalid (exit 1): there the value is data."""


class JobNotFound(QueuectlError, LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id


class DuplicateJob(QueuectlError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} already exists")
        self.job_id = job_id


class UniqueKeyTaken(QueuectlError):
    """A dead job cannot go back to pending: another job holds its unique key."""

    def __init__(self, job_id: str, holder: str) -> None:
        super().__init__(f"job {job_id!r} cannot be retried: job {holder!r} holds its "
                         "unique key (pending, failed or processing)")
        self.job_id = job_id


class WrongState(QueuectlError):
    def __init__(self, job_id: str, state: str, wanted: str) -> None:
        super().__init__(f"job {job_id!r} is {state}, not {wanted}")
        self.job_id = job_id
        self.state = state


class AlreadyHeld(WrongState):
    """`hold` of a job that is held already."""

    def __init__(self, job_id: str, state: str) -> None:
        QueuectlError.__init__(self, f"job {job_id!r} is {state} and held already")
        self.job_id = job_id
        self.state = state


class JobNeeded(QueuectlError):
    """An ended job that a waiting job still needs (a dead dependency): not removed."""

    def __init__(self, job_id: str, state: str, dependent: str) -> None:
        super().__init__(f"job {job_id!r} is {state} and job {dependent!r} waits for it")
        self.job_id = job_id
        self.state = state


class StoreUnavailable(QueuectlError):
    """The store cannot be opened or reached (bad path, not a database, server down)."""

    #: the server refused a connection because its connection limit is reached
    server_full: bool = False
    #: already said by another worker of the pool: a worker retrying says nothing more
    quiet: bool = False

    @classmethod
    def missing(cls, where: str) -> StoreUnavailable:
        """No store at ``where`` (a SQLite path), for a command that only reads."""
        return cls(f"no store at {where} (check --db or QUEUECTL_DB)")

    @classmethod
    def without_tables(cls, where: str) -> StoreUnavailable:
        """A PostgreSQL database at ``where`` (a redacted URL) that exists but holds no
        queuectl tables, for a command that only reads (it never creates them)."""
        return cls(f"the database {where} exists but has no queuectl tables: run "
                   "`queuectl init` or any command that writes (enqueue, worker start) "
                   "to create them")


class NoOutput(InvalidValue):
    """The job exists but has no such attempt to read the output of."""


class LostLease(QueuectlError):
    """A worker tried to finish a job it no longer holds (recovered or cancelled)."""


class DependencyRefused(InvalidValue):
    """A job of a batch names in `after` a job it can never run after: unknown, or cancelled.

    ``index``: the job's position in the batch, so that a bulk file names its line."""

    def __init__(self, index: int, dependency: str, why: str) -> None:
        super().__init__(f"cannot run after {dependency!r}: {why}")
        self.index = index
        self.dependency = dependency
        self.why = why

    def at(self, index: int) -> DependencyRefused:
        """The same refusal for the job at ``index`` of a larger batch."""
        return DependencyRefused(index, self.dependency, self.why)


class ScheduleNotFound(QueuectlError):
    def __init__(self, name: str) -> None:
        super().__init__(f"schedule {name!r} not found")
        self.name = name


class DuplicateSchedule(QueuectlError):
    def __init__(self, name: str) -> None:
        super().__init__(f"schedule {name!r} already exists (--replace replaces it)")
        self.name = name
