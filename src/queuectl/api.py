"""queuectl from Python: ``Queue``, a typed facade over the application layer (app/).

    from queuectl import Queue

    with Queue() as q:                      # the store the CLI would use
        job = q.enqueue("make test", priority=5, timeout=600)
        q.wait([job.id], timeout=3600)

Jobs are built from the same fields as a JSON job, checked by the same code as
`queuectl enqueue` (submit.py, specs.py): the same refusals, in the same words, raised as
``InvalidJob`` (a ValueError); nothing is written then. Its reads and actions are the
layer's (app/documents.py, app/control.py), which `show`, `logs`, `wait` and the
dashboard's JSON API call too, so their documents are the API's ``to_dict()`` by
construction.

Threads: one Queue holds one store connection and may be shared by threads; its calls take
turns on that connection (a lock). Threads that need to reach the store in parallel each
open a Queue of their own. A Queue must not cross a ``fork()``: open it in the child.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from queuectl.app import control, documents
from queuectl.app.documents import job_with_attempts, jobs_now, output_of, parse_state, wait_for
from queuectl.app.store import Storage, open_store
from queuectl.errors import DependencyRefused, InvalidJob, InvalidValue, UsageError
from queuectl.models import Hook, Job, State
from queuectl.settings import is_postgres, redact_url, sqlite_path, store_choice

if TYPE_CHECKING:  # imported where a job is submitted: a Queue that only reads never loads it
    from queuectl import submit

T = TypeVar("T")

# The shared reads stay importable from here, where they were first written.
__all__ = ["Queue", "job_with_attempts", "jobs_now", "output_of", "parse_state", "wait_for"]


# --- Python values to the fields of a JSON job --------------------------------------------


def _field_value(value: Any) -> Any:
    """A Python value as the JSON job would give it: a datetime as ISO 8601 (a naive one
    is local time, as the CLI reads a time without a zone), a timedelta as seconds."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON job for one entry of ``enqueue_many``: the keyword arguments of ``enqueue``,
    None meaning not given. ``after`` (ids) is passed on only when it names any."""
    fields = {key: _field_value(value) for key, value in entry.items() if value is not None}
    after = fields.get("after")
    if after is not None:
        ids = [after] if isinstance(after, str) else list(after)
        if ids:
            fields["after"] = ids
        else:
            del fields["after"]
    return fields


# An exit-code list as Queue takes it: [2, "64-78"] or "2,64-78".
Codes = Sequence[int | str] | str  # noqa: UP007 - a runtime alias


def _codes(codes: Codes | None) -> list[int | str] | str | None:
    """An exit-code list as enqueue's JSON takes it (None: not given)."""
    if codes is None or isinstance(codes, str):
        return codes
    return list(codes)


def _ids(ids: Iterable[str]) -> list[str] | None:
    """Dependency ids as enqueue's JSON takes them (None: none given)."""
    return ([ids] if isinstance(ids, str) else list(ids)) or None


HookList = list[Hook]  # named before the class, as Ids
Ids = list[str]  # named before the class: in its body, `list` is Queue.list


class Queue:
    """A queue of shell jobs in one store: what the CLI does, from Python.

    ``url``: a path, ``sqlite:///abs/path.db`` or ``postgresql://user@host:port/db``; None
    takes ``QUEUECTL_DB``, else the default store, as the CLI does. The store is opened at
    the first call, by the CLI's rules: ``enqueue`` and ``enqueue_many`` make a missing
    store (with its folders and schema); the other calls only read or change jobs that must
    already be there, so a store named by ``url`` or ``QUEUECTL_DB`` that does not exist
    raises StoreUnavailable (``no store at ...``) and nothing is created: a mistyped path
    is an error, not an empty queue. The default store is made by any call. ``create``
    True or False overrides this for every call.

    Raises UsageError (here) for an empty ``url`` or a set-but-empty ``QUEUECTL_DB``,
    InvalidValue for a URL of an unknown kind. Every method may raise StoreUnavailable
    (the store is missing or cannot be reached now); every error is a
    ``queuectl.QueuectlError``. Use it as a context manager, or ``close()`` it.
    """

    def __init__(self, url: str | None = None, *, create: bool | None = None) -> None:
        self._url, named = store_choice(url, given_as="url")
        if not is_postgres(self._url):
            sqlite_path(self._url)  # a malformed URL is refused now, not at the first call
        self._create = create
        self._named = named
        self._store: Storage | None = None
        self._closed = False
        import threading  # a Queue may be shared by threads; the CLI's reads never make one

        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The store's URL with any password replaced by ``***``."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"Queue({self.url!r})"

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the store's connection. Safe to call twice; no call works after it."""
        with self._lock:
            store, self._store, self._closed = self._store, None, True
        if store is not None:
            store.close()

    def _call(self, fn: Callable[[Storage], T], *, writes: bool = False) -> T:
        """``fn(store)``, one thread at a time: a store holds one connection. ``writes``:
        ``fn`` adds jobs, so a missing store is made (see the class)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Queue is closed")
            return fn(self._opened(writes))

    def _opened(self, writes: bool) -> Storage:
        """The store, opened once (under the lock); ``writes``: a missing one is made (see
        the class)."""
        if self._store is None:
            create = writes or not self._named if self._create is None else self._create
            self._store = open_store(self._url, create=create)
        return self._store

    # --- producing ------------------------------------------------------------------------

    def enqueue(
        self, command: str, *, id: str | None = None, priority: int = 0,
        max_retries: int | None = None, timeout: float | str | timedelta | None = None,
        run_at: datetime | str | None = None, delay: float | str | timedelta | None = None,
        queue: str = "default", cwd: str | None = None, env: Mapping[str, str] | None = None,
        after: Iterable[str] = (), unique_key: str | None = None, held: bool = False,
        tags: Iterable[str] = (), mutex: str | None = None, on_duplicate: str | None = None,
        debounce: float | str | timedelta | None = None, success_exit: Codes | None = None,
        no_retry_exit: Codes | None = None, deadline: float | str | timedelta | None = None,
        expires: datetime | float | str | timedelta | None = None,
        after_any: Iterable[str] = (), after_failure: Iterable[str] = (),
        snapshot: bool = False,
        gpus: int | None = None,
    ) -> Job:
        """Put one shell command on the queue; returns the new job (``to_dict()`` is
        `enqueue --json`).

        ``id``: 1-200 characters without control characters (default: a short generated
        one). ``priority``: higher runs first. ``max_retries``: retries after the first
        attempt (None: config ``max-retries``). ``timeout``: seconds an attempt may run, or
        a duration like "5m" (None: config ``job-timeout``; 0: no limit). ``run_at``: not
        before this time (a naive datetime or a string without zone is local time);
        ``delay``: not before this long from now (seconds, "30s", a timedelta); not both.
        ``cwd``: where the command runs (default: this process's current directory;
        relative: to it). ``env``: variables added to the job's environment. ``after``:
        ids of jobs that must complete first; ``unique_key``: see docs/reference.md (both are
        passed to the same checks as the CLI's, and refused where those do not know them).
        ``held``: never claimed until ``release`` (`enqueue --hold`). ``tags``: what
        ``list(tags=...)`` finds it by (1-100 characters each, at most 20). ``mutex``: at most
        one job holding this name runs at once, on any host (`enqueue --mutex`).
        ``on_duplicate`` ("keep" or "replace") and ``debounce`` (seconds, "30s" or a
        timedelta): what a duplicate of ``unique_key`` does to the waiting job holding it
        (`enqueue --on-duplicate`, `--debounce`); the job returned is then that one, with
        ``duplicate`` set.
        ``list(tags=...)`` finds it by (1-100 characters each, at most 20).
        ``success_exit``: exit codes (0-255) that count as success too; ``no_retry_exit``:
        exit codes that send the job to the DLQ at once; each a list of integers and
        "lo-hi" strings (``[2, "64-78"]``) or a comma list ("2,64-78"). ``deadline``: wall
        time allowed from the first attempt's start over all attempts (seconds, "2h", a
        timedelta). ``expires``: a job not started by then is cancelled as expired (a
        datetime, an ISO string, or seconds / a duration / a timedelta from now).
        ``after_any``: ids of jobs that must end first, in any way; ``after_failure``: ids
        of jobs that must end dead or cancelled (if one completes, this job is cancelled,
        not needed). ``snapshot``: freeze the tracked files of ``cwd``'s git work tree as
        they are now (uncommitted changes included, untracked files left out); every
        attempt runs in a fresh copy, in the same directory relative to the tree's root
        (`enqueue --snapshot`). Refused (InvalidValue) outside a git work tree, in a
        repository without a commit, or above config ``max-snapshot-bytes``.
        ``gpus``: the job runs only in a pool started with GPUs (`worker start --gpus`)
        that has this many of them free (1-1024), with ``CUDA_VISIBLE_DEVICES`` set to the
        indexes it was given (`enqueue --gpus`).

        Raises InvalidJob (a ValueError) with the CLI's message for any refused field,
        DuplicateJob when ``id`` exists; nothing is written then."""
        fields = _fields({"command": command, "id": id, "priority": priority,
                          "max_retries": max_retries, "timeout": timeout, "run_at": run_at,
                          "delay": delay, "queue": queue, "cwd": cwd, "env": env,
                          "after": after, "unique_key": unique_key,
                          "held": held or None,
                          "tags": ([tags] if isinstance(tags, str) else list(tags)) or None,
                          "mutex": mutex, "on_duplicate": on_duplicate,
                          "debounce": debounce.total_seconds()
                          if isinstance(debounce, timedelta) else debounce,
                          "success_exit": _codes(success_exit),
                          "no_retry_exit": _codes(no_retry_exit), "deadline": deadline,
                          "expires_at": expires, "after_any": _ids(after_any),
                          "after_failure": _ids(after_failure),
                          "snapshot": snapshot or None, "gpus": gpus})
        from queuectl import submit

        return self._insert(lambda fallback: submit.single(fields, fallback))[0]

    def enqueue_many(self, specs: Iterable[Mapping[str, Any]]) -> list[Job]:
        """Put several jobs on the queue in one transaction: all or none.

        Each spec is a mapping of ``enqueue``'s keyword arguments (``command`` required),
        as a JSON jobs file holds them. Raises InvalidJob naming the first refused entry
        (``entry 2: ...``, counted from 1, as the CLI names an array's entries), or
        DuplicateJob; nothing is written then. Returns the jobs in the order given."""
        entries = []
        for n, spec in enumerate(specs, 1):
            if not isinstance(spec, Mapping):
                raise InvalidJob(f"entry {n}: expected a mapping of job fields, "
                                 f"not {type(spec).__name__}")
            entries.append((f"entry {n}", _fields(spec)))
        from queuectl import submit

        return self._insert(lambda fallback: submit.batch(entries, fallback, source="the batch"))

    def _insert(self, build: Callable[[submit.Defaults], submit.Batch]) -> list[Job]:
        """Check the jobs ``build`` makes, then insert them (app/enqueue.py); a missing
        store is made only once they pass, so a refused job leaves none behind."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Queue is closed")
            from queuectl.app import enqueue as submitting

            try:
                batch, store = submitting.checked(self._opened, build)
            except (UsageError, InvalidValue) as exc:
                raise InvalidJob(str(exc)) from None
            try:  # an id that exists stays DuplicateJob, as documented
                return submitting.insert(store, batch, name_duplicates=False)
            except DependencyRefused as exc:  # a single job's: unlabelled, as the CLI's
                raise InvalidJob(str(exc)) from None

    # --- reading --------------------------------------------------------------------------

    def get(self, id: str) -> Job:
        """The job with its attempts log (``attempts_log``; ``to_dict()`` is `show --json`).
        Raises JobNotFound."""
        return self._call(lambda store: job_with_attempts(store, id))

    def status(self) -> dict[str, Any]:
        """The `status --json` document: counts per state (every state), ``scheduled``
        (pending jobs due later) and ``workers`` (``active``, ``busy``)."""
        return self._call(documents.status)

    def logs(self, id: str, attempt: int | None = None) -> bytes:
        """The captured output (stdout and stderr, in order) of the latest attempt, or of
        attempt number ``attempt`` (from 1): at most config ``max-log-bytes``, the tail.
        ``b""`` when the job has not run yet. Raises JobNotFound, or NoOutput (a
        ValueError) for an attempt the job never had."""
        out = self._call(lambda store: output_of(store, id, attempt))
        return b"" if out is None else out.data

    def wait(self, ids: Iterable[str] | str, timeout: float | None = None) -> list[Job]:
        """Block until every job is final (completed, dead or cancelled), or ``timeout``
        seconds have passed (None: no limit). Returns the jobs as they are then, in the
        order given: after a timeout, some may still be pending or processing (check
        ``job.state``). Returns at once, too, when a job waits (directly or down the
        chain) for a dead job: it cannot complete until that one is retried. Raises
        JobNotFound for an unknown id. Other threads' calls run between its polls of the
        store."""
        job_ids = [ids] if isinstance(ids, str) else list(ids)

        def stuck(jobs: list[Job]) -> bool:
            return bool(self._call(lambda store: documents.dead_blockers(store, jobs)))

        jobs, _ = wait_for(lambda: self._call(lambda store: jobs_now(store, job_ids)), timeout,
                           stuck=stuck)
        return jobs

    # After every method annotated with list[...]: from here on, in the class body, the
    # name list is this method (mypy reads annotations there).
    def list(self, state: State | str | None = None, queue: str | None = None,
             limit: int | None = 100, *, tags: Iterable[str] = (),
             search: str | None = None) -> list[Job]:
        """Jobs newest first, as `list`: only ``state`` / ``queue`` when given, only jobs
        holding every one of ``tags``, only those whose id or command holds ``search`` in
        any case; at most ``limit`` (None or 0: all). With a limit, ``tags`` and ``search``
        look through the newest 100,000 jobs of the store (as `list`; ``limit=None`` looks
        through all). Raises InvalidValue (a ValueError) for an unknown
        state or a negative limit."""
        wanted = [tags] if isinstance(tags, str) else [*tags]
        chosen = parse_state(state)
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise InvalidValue(f"invalid limit {limit!r}: must be an integer >= 0")
        return self._call(lambda store: documents.list_jobs(store, chosen, queue, limit or None,
                                                            tags=wanted, search=search))

    # --- controlling ----------------------------------------------------------------------

    def cancel(self, id: str) -> Job:
        """Cancel a pending, failed or running job (a running one's process group is killed
        by its worker moments later); returns it, cancelled. Raises JobNotFound, or
        WrongState for a job that is already final."""
        return self._call(lambda store: control.cancel(store, [id])[0])

    def remove(self, *ids: str) -> Ids:
        """Delete ended jobs (completed, dead, cancelled) with their attempts and output,
        all or none, as `remove`; the ids deleted. Raises JobNotFound, WrongState for a job
        not ended, or JobNeeded for one a waiting job still needs; nothing is deleted then."""
        return self._call(lambda store: control.remove(store, ids))

    def hold(self, *ids: str) -> Ids:
        """Hold waiting (pending or failed) jobs, all or none, as `hold`: never claimed until
        released; the jobs' ids. Raises JobNotFound, or WrongState for a job not waiting or
        held already; nothing changes then."""
        return [job.id for job in self._call(lambda store: control.hold(store, ids))]

    def release(self, *ids: str) -> Ids:
        """Release held jobs, all or none, as `release`; the jobs' ids. Raises JobNotFound,
        or WrongState for a job that is not held; nothing changes then."""
        return [job.id for job in self._call(lambda store: control.release(store, ids))]

    def rerun(self, id: str, **fields: Any) -> Job:
        """A new job from ended job ``id`` (completed, dead, cancelled), as `rerun`: its
        command, priority, timeout, max_retries, queue, cwd, env, tags and policies, with
        ``fields`` (any of ``enqueue``'s keyword arguments) winning; due at once unless
        they say otherwise. The new job's ``rerun_of`` is ``id``. Raises JobNotFound,
        WrongState for a job that has not ended, InvalidJob for a refused field."""
        given = _fields(fields)
        from queuectl.app import enqueue as submitting

        def rerun(store: Storage) -> Job:
            try:
                return submitting.rerun(store, id, given)
            except (UsageError, InvalidValue) as exc:
                raise InvalidJob(str(exc)) from None

        return self._call(rerun, writes=True)

    def edit(self, id: str, **fields: Any) -> Job:
        """Change waiting job ``id`` (pending or failed), as `edit`: ``fields`` are any of
        ``command``, ``priority``, ``timeout`` (seconds or a timedelta; 0: no limit),
        ``max_retries``, ``queue``, ``cwd``, ``env`` (replaces the whole mapping; ``{}``
        clears it), ``tags`` (replaces the whole list; ``[]`` clears it), ``run_at`` (a
        datetime) or ``delay`` (seconds or a timedelta from now); None means not given.
        Checked as ``enqueue`` checks a job; a worker runs the job as it was or as edited,
        never a mix. Returns the edited job. Raises JobNotFound, WrongState for a job that
        is running or has ended, InvalidJob for a refused field (or none given); nothing
        changes then."""
        given = _fields(fields)
        from queuectl.app import enqueue as submitting

        def edit(store: Storage) -> Job:
            try:
                return submitting.edit(store, id, given)
            except (UsageError, InvalidValue) as exc:
                raise InvalidJob(str(exc)) from None

        return self._call(edit)
    def snooze(self, delay: float | str | timedelta) -> int:
        """From inside a running job (as `queuectl snooze`): run it again ``delay`` after
        this attempt ends (seconds, "10m", a timedelta), whatever its exit code, without
        spending a retry. The job is the one this process's environment names (its
        worker's QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT, QUEUECTL_SNOOZE_FILE). Returns its
        snoozes so far. Raises InvalidValue outside a job or past config max-snoozes,
        WrongState when the attempt no longer runs."""
        import os

        seconds = _field_value(delay)
        if isinstance(seconds, str):
            from queuectl.timeparse import parse_duration

            seconds = parse_duration(seconds)
        return self._call(lambda store: control.snooze(store, os.environ, float(seconds)),
                          writes=True)

    def add_hook(self, name: str, on: str | Iterable[str], command: str, *,
                 queue: str | None = None, cron: str | None = None, cwd: str | None = None,
                 replace: bool = False) -> Hook:
        """As `hook add`: whenever a job (of ``queue``, of schedule ``cron``) meets one of
        the events ``on`` (completed, failed, dead, cancelled, lost; a schedule's overdue,
        suspect), a job running ``command`` (in ``cwd``: default this process's
        directory) is enqueued in queue `hooks`, in the same transaction. Raises
        InvalidValue (a ValueError) for a bad name, event or command, or a name that is
        taken unless ``replace``."""
        from queuectl.app import hooks

        events = on if isinstance(on, str) else list(on)

        def add(store: Storage) -> Hook:
            try:
                return hooks.add(store, name, events, command, queue=queue, cron=cron,
                                 cwd=cwd, replace=replace)
            except hooks.HookExists as exc:
                raise InvalidValue(str(exc)) from None

        return self._call(add, writes=True)

    def hooks(self) -> HookList:
        """Every hook, by name (`hook list`)."""
        from queuectl.app import hooks

        return self._call(hooks.listed)

    def remove_hook(self, name: str) -> None:
        """As `hook remove`. Raises InvalidValue when there is no such hook."""
        from queuectl.app import hooks

        def remove(store: Storage) -> None:
            try:
                hooks.remove(store, name)
            except hooks.HookNotFound as exc:
                raise InvalidValue(str(exc)) from None

        self._call(remove, writes=True)

    def retry(self, id: str) -> Job:
        """A dead job back to pending, attempts 0, due now (as `dlq retry`); returns it.
        Raises JobNotFound, or WrongState for a job that is not dead."""
        return self._call(lambda store: control.retry_dead(store, [id])[0])
