"""Runs one shell command: its own session, output captured, timeout, kill the whole group.

The loop is a single select() over the output pipe, a pidfd that becomes readable when the
shell exits, and the worker's own wake-up descriptors (store listener, supervisor pipe), so a
cancel or a second Ctrl-C is acted on at once and a quick job costs one spawn and a couple
of system calls. No threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from queuectl.models import AttemptResult, Job, Outcome
from queuectl.recurring import job_env

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to the job's process group
FLUSH_INTERVAL = 0.25  # seconds between saves of a running job's output (logs --follow)
CHECK_INTERVAL = 1.0  # seconds between check-ins when nothing wakes us
READ_SIZE = 1 << 16  # bytes per read of the output pipe

log = logging.getLogger("queuectl.worker")


class Action(Enum):
    CONTINUE = "continue"
    CANCEL = "cancel"  # a user cancelled the job: kill it, it ends cancelled
    ABORT = "abort"  # the worker must stop now: kill it, hand the job back


class TailBuffer:
    """Keeps the last ``limit`` bytes of a stream and counts what it let go.

    Chunks are kept as read and whole chunks dropped from the front, so memory stays within
    ``limit`` plus one chunk and nothing is moved per read however much a job prints.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def add(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        while self._size - len(self._chunks[0]) >= self.limit:
            gone = self._chunks.popleft()
            self._size -= len(gone)
            self.dropped += len(gone)

    @property
    def total(self) -> int:
        """Bytes seen so far, kept or dropped."""
        return self.dropped + self._size

    def snapshot(self) -> tuple[bytes, int]:
        """The last ``limit`` bytes (cutting into the oldest chunk) and how many came before."""
        data = b"".join(self._chunks)
        excess = max(0, len(data) - self.limit)
        return data[excess:], self.dropped + excess


@dataclass(frozen=True)
class RunSpec:
    command: str
    cwd: str
    env: Mapping[str, str]
    timeout: float | None  # seconds; None or 0: no limit
    max_log_bytes: int
    stdin: bytes | None = None  # what the command reads on stdin (None: /dev/null)

    @classmethod
    def of(cls, job: Job, base_env: Mapping[str, str], worker_id: str,
           max_log_bytes: int, given: Mapping[str, str] | None = None,
           stdin: bytes | None = None) -> RunSpec:
        """A job's attempt: the worker's environment with the job's own over it, and the
        variables that tell the command which job, attempt and worker it is (a schedule's
        job its schedule and tick; ``given``: the worker's store and snooze file, for
        `queuectl snooze`)."""
        env = {**base_env, **(job.env or {}), "QUEUECTL_JOB_ID": job.id,
               "QUEUECTL_ATTEMPT": str(job.last_attempt), "QUEUECTL_WORKER_ID": worker_id,
               **(given or {})}
        if job.cron is not None:
            env.update(job_env(job.id, job.cron, job.created_at))
        from queuectl.transitions import time_left  # (imported by the worker already)

        return cls(job.command, job.cwd, env, time_left(job), max_log_bytes, stdin)


@dataclass
class Hooks:
    """How the runner talks back to its worker while the command runs."""

    fds: Sequence[int]  # extra descriptors whose readiness means "check in now"
    check: Callable[[], Action]  # called when one is ready, and every CHECK_INTERVAL
    save_output: Callable[[bytes, int], None]  # called every FLUSH_INTERVAL with new output
    # seconds between checks when nothing wakes us; the worker shortens it below its
    # heartbeat interval so a short lease-timeout never mistakes a busy worker for a lost one
    check_interval: float = CHECK_INTERVAL
    # told the job's process group id once it runs: whoever outlives a crashed worker (its
    # supervisor) can then kill the job instead of leaving it to run beside its retry
    started: Callable[[int], None] | None = None


def run(spec: RunSpec, hooks: Hooks) -> AttemptResult:
    """Run ``spec.command`` with /bin/sh -c and report how it ended.

    NOT_STARTED means exactly that: the command never ran. Once it runs, nothing that
    fails in here (a hook, the worker's own descriptors) leaves it running unwatched: its
    process group is killed and reaped first, and the attempt ends KILLED, saying why."""
    try:
        pid, out_fd, raced = _spawn(spec)
    except OSError as exc:
        where = f" in {spec.cwd}" if isinstance(exc, _BadCwd) else ""
        return AttemptResult(Outcome.NOT_STARTED, error=f"cannot start{where}: {exc.strerror}")
    except Exception as exc:  # noqa: BLE001 - before the spawn: it never ran
        return AttemptResult(Outcome.NOT_STARTED, error=f"cannot start: {exc}")
    try:
        if hooks.started is not None:
            hooks.started(pid)  # its own session: the pid is the process group id
        supervision = _Supervision(pid, out_fd, spec, hooks, raced)
    except BaseException as exc:
        _killpg(pid, signal.SIGKILL)
        os.close(out_fd)
        os.waitpid(pid, 0)
        if not isinstance(exc, Exception):
            raise
        log.exception("cannot watch a job's process; killed it",
                      extra={"event": "job_unwatched", "error": str(exc)})
        return AttemptResult(Outcome.KILLED, error=f"killed: the worker could not watch it ({exc})")
    return supervision.watch()


class _BadCwd(OSError):
    """The job's directory cannot be entered."""


SHELL = "/bin/sh"
# Python ignores SIGPIPE and SIGXFSZ; an ignored signal survives exec, so the job gets the
# defaults back (what Popen's restore_signals does).
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
# What a terminal or a service manager sends to the pool's whole process group to stop it.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
_home_fd: int | None = None  # the worker's own directory, to come back to after a spawn


def _spawn(spec: RunSpec) -> tuple[int, int, frozenset[int]]:
    """posix_spawn (vfork + exec) into a new session, stdout+stderr into one pipe: (the pid,
    the pipe's read end, the stop signals that reached the worker's process group while
    the child was being made).

    Popen spends more CPU per job in Python-level set-up, a visible share of a `true` job
    (bench/RESULTS.md). posix_spawn has no cwd argument, so the worker (one thread)
    enters the job's directory around the spawn and goes back at once.

    Until the child's setsid it is still in the worker's process group: a Ctrl-C to the
    pool then reaches it too, stays pending while the child blocks every signal, and kills
    it with the default action just before its exec. The worker blocks the stop signals
    around the spawn, so whatever came in that window is pending here as well and can be
    read exactly; the child gets the worker's own mask back for its exec.
    """
    global _home_fd
    if _home_fd is None:
        _home_fd = _seal_inherited_fds()
    stdin = _devnull() if spec.stdin is None else _stdin_file(spec.stdin)
    read_fd, write_fd = os.pipe()  # both close-on-exec; dup2 clears it on the child's 1 and 2
    try:
        try:
            os.chdir(spec.cwd)
        except OSError as exc:
            raise _BadCwd(exc.errno, exc.strerror) from None
        try:
            actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, write_fd, 1),
                       (os.POSIX_SPAWN_DUP2, write_fd, 2)]
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                pid = os.posix_spawn(SHELL, [SHELL, "-c", spec.command], spec.env,
                                     file_actions=actions, setsid=True,  # own process group:
                                     setsigdef=DEFAULT_SIGNALS,  # killpg reaches grandchildren
                                     setsigmask=mask)
                raced = frozenset(STOP_SIGNALS & signal.sigpending())
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the handlers run now
        finally:
            os.fchdir(_home_fd)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
        if spec.stdin is not None:
            os.close(stdin)
    return pid, read_fd, raced


def _stdin_file(data: bytes) -> int:
    """A descriptor of an unnamed file holding ``data``, read from its start."""
    import tempfile

    with tempfile.TemporaryFile() as held:
        fd = os.dup(held.fileno())  # close-on-exec, as dup makes it; outlives the file object
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_devnull_fd: int | None = None


def _devnull() -> int:
    global _devnull_fd
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


def _seal_inherited_fds() -> int:
    """Once per process: mark every descriptor above 2 close-on-exec (what Popen's
    close_fds did per spawn), so a descriptor the worker inherited never reaches a job.
    Returns a descriptor of the current directory."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, now closed
                os.set_inheritable(fd, False)
    return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


class _Supervision:
    def __init__(self, pid: int, out_fd: int, spec: RunSpec, hooks: Hooks,
                 raced: frozenset[int] = frozenset()) -> None:
        self.pid = pid
        self.raced = raced  # stop signals sent to the worker's group during the spawn
        self.spec = spec
        self.hooks = hooks
        self.tail = TailBuffer(spec.max_log_bytes)
        self.pipe_fd = out_fd
        self.out_fd: int | None = out_fd  # None once the pipe reached EOF
        self.exit_fd = os.pidfd_open(pid)
        self.started = time.monotonic()
        self.deadline = self.started + spec.timeout if spec.timeout else None
        self.kill_at: float | None = None  # when SIGTERM turns into SIGKILL
        self.ending: Outcome | None = None  # why we are killing it, if we are
        self.saved_len = 0
        self.failure: str | None = None  # what failed in the worker while it ran, if anything

    def watch(self) -> AttemptResult:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - a hook failed: never leave the job unwatched
            log.exception("watching a job failed; killing it",
                          extra={"event": "job_unwatched", "error": str(exc)})
            self.failure = f"{type(exc).__name__}: {exc}"
            self._killpg(signal.SIGKILL)
        except BaseException:
            self._killpg(signal.SIGKILL)
            self._close_and_reap()
            raise
        return self._result(self._close_and_reap())

    def _close_and_reap(self) -> int:
        os.close(self.exit_fd)
        os.close(self.pipe_fd)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def _loop(self) -> None:
        # Lean on purpose: a quick job goes round once or twice (the pipe's EOF often comes
        # a moment before the pidfd), and every step here is worker CPU per job.
        hooks, exit_fd, monotonic = self.hooks, self.exit_fd, time.monotonic
        hook_fds, fds = self._fds()
        next_check = self.started + hooks.check_interval
        next_flush = self.started + FLUSH_INTERVAL
        while True:
            wake_at = min(next_check, next_flush)
            if self.deadline is not None and self.deadline < wake_at:
                wake_at = self.deadline
            if self.kill_at is not None and self.kill_at < wake_at:
                wake_at = self.kill_at
            ready = select.select(fds, [], [], max(0.0, wake_at - monotonic()))[0]
            if self.out_fd is not None and self.out_fd in ready:
                self._read()
                if self.out_fd is None:  # at EOF the pipe stays readable: stop asking
                    hook_fds, fds = self._fds()
            if exit_fd in ready:
                self._drain()
                return
            now = monotonic()
            if now >= next_check or not hook_fds.isdisjoint(ready):
                self._act(hooks.check())
                next_check = now + hooks.check_interval
                hook_fds, fds = self._fds()  # the check may drop a descriptor (at EOF)
            if now >= next_flush:
                self._flush()
                next_flush = now + FLUSH_INTERVAL
            self._enforce_deadlines(now)

    def _fds(self) -> tuple[frozenset[int], list[int]]:
        """The worker's descriptors, and everything to wait on."""
        fds = [self.exit_fd, *self.hooks.fds]
        if self.out_fd is not None:
            fds.append(self.out_fd)
        return frozenset(self.hooks.fds), fds

    def _read(self) -> None:
        assert self.out_fd is not None
        data = os.read(self.out_fd, READ_SIZE)
        if data:
            self.tail.add(data)
        else:
            self.out_fd = None  # EOF: everything holding the pipe has closed it

    def _drain(self) -> None:
        """The shell has exited: take what is already in the pipe, without waiting for a
        background grandchild that may hold it open for hours."""
        if self.out_fd is None:
            return
        os.set_blocking(self.out_fd, False)
        while True:
            try:
                data = os.read(self.out_fd, READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                return
            self.tail.add(data)

    def _flush(self) -> None:
        if self.tail.total != self.saved_len:
            self.saved_len = self.tail.total
            self.hooks.save_output(*self.tail.snapshot())

    def _act(self, action: Action) -> None:
        if action is Action.CANCEL and self.ending is None:
            self._terminate(Outcome.CANCELLED)
        elif action is Action.ABORT and self.ending is not Outcome.INTERRUPTED:
            self._terminate(Outcome.INTERRUPTED)

    def _enforce_deadlines(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline and self.ending is None:
            self._terminate(Outcome.TIMED_OUT)
        if self.kill_at is not None and now >= self.kill_at:
            self._killpg(signal.SIGKILL)
            self.kill_at = None

    def _terminate(self, why: Outcome) -> None:
        first = self.ending is None
        self.ending = why
        if first:
            self._killpg(signal.SIGTERM)
            self.kill_at = time.monotonic() + KILL_GRACE
        else:
            self._killpg(signal.SIGKILL)

    def _killpg(self, sig: signal.Signals) -> None:
        _killpg(self.pid, sig)

    def _result(self, code: int) -> AttemptResult:
        if self.ending is not None:
            # Whatever survived SIGTERM in the group (a grandchild ignoring it) goes now.
            self._killpg(signal.SIGKILL)
        output, dropped = self.tail.snapshot()
        if self.failure is not None:
            error = f"killed: the worker failed while it ran ({self.failure})"
            return AttemptResult(Outcome.KILLED, None, error, output, dropped)
        if self.ending is Outcome.TIMED_OUT:
            assert self.spec.timeout
            error = f"timed out after {self.spec.timeout:g}s"
            return AttemptResult(Outcome.TIMED_OUT, None, error, output, dropped)
        if self.ending is Outcome.CANCELLED:
            error = "cancelled while running"
            return AttemptResult(Outcome.CANCELLED, None, error, output, dropped)
        if self.ending is Outcome.INTERRUPTED:
            error = "interrupted: worker stopped"
            return AttemptResult(Outcome.INTERRUPTED, None, error, output, dropped)
        if code == 0:
            return AttemptResult(Outcome.SUCCEEDED, 0, None, output, dropped)
        if code < 0 and -code in self.raced:
            # Killed by the pool's own stop signal before its exec: it never ran, and the
            # worker is stopping; not the job's fault, so no retry is spent (see _spawn).
            error = "interrupted: the pool's stop signal reached it as it started"
            return AttemptResult(Outcome.INTERRUPTED, None, error, output, dropped)
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return AttemptResult(Outcome.KILLED, None, f"killed by signal {name}", output, dropped)
        return AttemptResult(Outcome.FAILED, code, f"exit code {code}", output, dropped)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, sig)
