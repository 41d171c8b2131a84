"""Starts N worker processes, relays stop requests to them, restarts the ones that crash.

Workers are forked and stay in the supervisor's process group, so a terminal Ctrl-C reaches
them directly. The supervisor relays the *level* it has reached (pool/stop.py: graceful,
then abort) over a pipe per worker instead of re-sending signals: a worker takes the highest
level it has heard of, so one Ctrl-C that hits every process at once still counts as one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import re
import select
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from queuectl import proctitle
from queuectl.errors import InvalidValue, QueuectlError, StoreUnavailable
from queuectl.ids import new_worker_id
from queuectl.pool.checkpointer import Checkpointer
from queuectl.pool.gate import PoolSlots, WorkerGate, slots_from
from queuectl.pool.housekeeping import PoolPace
from queuectl.pool.log import LogFormat, configure_logging
from queuectl.pool.notify import Notifier, PoolReport
from queuectl.pool.recovery import RecoveryClock
from queuectl.pool.relay import IdleBoard, Relay, WorkerSide
from queuectl.pool.stop import StopLevel, StopSignals
from queuectl.settings import data_dir, make_private_dirs, redact_url
from queuectl.storage import store_type

READY_TIMEOUT = 30.0  # seconds --detach waits for the workers to register
RESTART_DELAY_MAX = 10.0  # seconds between restarts of a worker that keeps crashing
STABLE_AFTER = 60.0  # seconds a worker must live for its crash backoff to start over
EXIT_STORE = 3  # a worker could not open the store
SUPERVISOR_TAG = "supervisor"  # marks the supervisor's line on the --detach ready pipe

log = logging.getLogger("queuectl.supervisor")


@dataclass
class Child:
    pid: int
    pipe_w: int  # the supervisor's end of the level pipe
    slot: int
    worker_id: str
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, url: str, count: int, queues: Sequence[str], ready_fd: int | None = None,
                 notifier: Notifier | None = None, gpus: Sequence[int] = ()):
        self.url = url
        self.count = count
        self.queues = list(queues)
        self.gpus = list(gpus)  # `--gpus`: this host's GPUs the pool owns (its workers share)
        self.ready_fd = ready_fd  # --detach: each worker writes its pid here once ready
        self.children: dict[int, Child] = {}
        self.signals = StopSignals()
        self.stopping = False
        self.crashes = [0] * count
        # One 8-byte slot per worker, shared across fork: the process group of the job it
        # runs (0: none). Written with no system call per job; read when a worker dies.
        self.job_groups = mmap.mmap(-1, 8 * count)
        self.recovery_clock = RecoveryClock()  # when the pool last made a recovery pass
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        kind = store_type(url)
        self.checkpointer = Checkpointer(url, kind)
        # The pool's one ear on the store, relayed to the workers (pool/relay.py).
        self.board = IdleBoard(count)
        self.relay = Relay(kind.pool_wakeups(url), self.board)
        # A few server connections shared by the workers, if the store's are counted.
        self.slots = PoolSlots(pool_slots(count), count) if kind.server_connections else None
        # ...and a store whose every transaction costs the server: the chores that need
        # not be done by each worker are paced by the pool (pool/housekeeping.py).
        self.pace = PoolPace() if kind.server_connections else None
        # With a service manager to tell (pool/notify.py): each worker writes its pid to
        # this pipe once registered and listening, as --detach's workers do to ready_fd.
        self.report = PoolReport(notifier, count) if notifier is not None else None
        self.up: set[int] = set()  # pids of the workers that said so, while they live
        self._up_r, self._up_w = os.pipe() if notifier is not None else (-1, -1)
        if self._up_r >= 0:
            os.set_blocking(self._up_r, False)

    # --- signals -------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum != signal.SIGCHLD:
            self.signals.heard(signum)

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)

    # --- children ------------------------------------------------------------------------

    def _spawn(self, slot: int) -> None:
        pipe_r, pipe_w = os.pipe()
        worker_id = new_worker_id()  # ours to name: the relay hears its wake-ups from now
        self.relay.watch(worker_id)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(pipe_w)
                for child in self.children.values():
                    os.close(child.pipe_w)
                ready_fds = [fd for fd in (self.ready_fd, self._up_w) if fd is not None and fd >= 0]
                if self._up_r >= 0:
                    os.close(self._up_r)
                self.relay.after_fork()
                gate = self.slots.gate(slot) if self.slots is not None else None
                code = _worker_main(self.url, self.queues, pipe_r, ready_fds,
                                    self._job_group_slot(slot), self.relay.side(slot),
                                    self.recovery_clock, worker_id, self.gpus, gate,
                                    self.pace)
            except BaseException:  # noqa: BLE001 - the child must never return into our loop
                log.exception("worker crashed", extra={"event": "worker_crashed"})
            finally:
                logging.shutdown()
                os._exit(code)
        os.close(pipe_r)
        self.children[pid] = Child(pid, pipe_w, slot, worker_id)

    def _tell(self, level: StopLevel) -> None:
        for child in self.children.values():
            with contextlib.suppress(OSError):  # it has exited; the reaper will see it
                os.write(child.pipe_w, str(int(level)).encode())

    def _reap(self) -> list[tuple[Child, int]]:
        gone = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            child = self.children.pop(pid, None)
            self.up.discard(pid)
            if child is not None:
                os.close(child.pipe_w)
                self.board.clear(child.slot)
                if self.slots is not None:
                    self.slots.clear(child.slot)
                self.relay.forget(child.worker_id)
                self._kill_orphaned_job(child)
                gone.append((child, status))
        return gone

    def _job_group_slot(self, slot: int) -> Callable[[int], None]:
        def record(pgid: int) -> None:
            self.job_groups[slot * 8 : slot * 8 + 8] = pgid.to_bytes(8, "little")

        return record

    def _kill_orphaned_job(self, child: Child) -> None:
        """A worker that died mid-job (kill -9, OOM) leaves its job running in its own session;
        the job is retried elsewhere, so this copy must not run on beside the retry."""
        at = child.slot * 8
        pgid = int.from_bytes(self.job_groups[at : at + 8], "little")
        if pgid <= 0:
            return
        self.job_groups[at : at + 8] = bytes(8)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
            log.warning("killed process group %d of the job worker %d was running",
                        pgid, child.pid, extra={"event": "orphan_killed"})

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until every worker has exited; the exit code: 0, or 128 + N when
        signal N interrupted the running jobs (130 for a second Ctrl-C), as a shell says."""
        proctitle.set_title("supervisor", self.url, f"{self.count} workers")
        self._install_signals()
        if self.ready_fd is not None:  # --detach: the pid to signal, before the workers'
            os.write(self.ready_fd, f"{SUPERVISOR_TAG} {os.getpid()}\n".encode())
        for slot in range(self.count):
            self._spawn(slot)
        if self.ready_fd is not None:
            os.close(self.ready_fd)  # only the workers write to it now
            self.ready_fd = None
        told = StopLevel.NONE
        restarts: list[tuple[float, int]] = []  # (when, slot)
        try:
            while self.children or (restarts and not self.stopping):
                wake_at = min((when for when, _ in restarts), default=time.monotonic() + 1.0)
                for due_at in (self.checkpointer.due_at(), self._report_due()):
                    if due_at is not None:
                        wake_at = min(wake_at, due_at)
                fds = [fd for fd in (self._wake_r, self._up_r) if fd >= 0]
                fds += self.relay.fds()
                select.select(fds, [], [], max(0.0, wake_at - time.monotonic()))
                _drain(self._wake_r)
                self._read_up()
                self._pump()
                level = self.signals.level
                if level > told:
                    told = level
                    self.stopping = True
                    self._tell(level)
                    self._say_stop(level)
                for child, status in self._reap():
                    restarts += self._after_exit(child, status)
                due = [r for r in restarts if r[0] <= time.monotonic()]
                restarts = [r for r in restarts if r[0] > time.monotonic()]
                for _, slot in due if not self.stopping else ():
                    self._spawn(slot)
                self._report()
                self.checkpointer.run_if_due()  # also while stopping: jobs may run for hours
        finally:
            self.relay.close()
            self.checkpointer.close()
            if self.slots is not None:
                self.slots.close()
            if self.report is not None:
                self.report.notifier.close()
        return self.signals.exit_code()

    # --- wake-ups (pool/relay.py) ---------------------------------------------------------

    def _pump(self) -> None:
        pipes = {child.slot: child.pipe_w for child in self.children.values()}
        self.relay.pump(pipes, self._running,
                        self.slots.holding if self.slots is not None else None)

    def _running(self, slot: int) -> bool:
        return any(self.job_groups[slot * 8 : slot * 8 + 8])

    # --- what the service manager is told (pool/notify.py) -------------------------------

    def _read_up(self) -> None:
        """Pids of workers now registered: the pipe's lines, kept while the worker lives."""
        if self._up_r < 0:
            return
        try:
            data = os.read(self._up_r, 4096)
        except BlockingIOError:
            return
        self.up.update(pid for pid in map(int, data.split()) if pid in self.children)

    def _report(self) -> None:
        """Busy workers are sampled from their job slots on each turn of the loop (at least
        once a second): a message per job would flood the manager with short jobs."""
        if self.report is not None:
            self.report.update(len(self.up), self.running_jobs(), self.stopping,
                               time.monotonic())

    def _report_due(self) -> float | None:
        return self.report.watchdog_due() if self.report is not None else None

    def running_jobs(self) -> int:
        """How many workers are running a job now (their slot holds a process group)."""
        return sum(1 for at in range(0, 8 * self.count, 8) if any(self.job_groups[at : at + 8]))

    def _say_stop(self, level: StopLevel) -> None:
        """Tell the person who pressed Ctrl-C what happens now: after the first one the pool
        may stay quiet for as long as its longest job runs."""
        if level >= StopLevel.ABORT:
            # No count here: the workers heard the same Ctrl-C and may have killed theirs.
            log.warning("stopping now: killing the running jobs and handing them back",
                        extra={"event": "pool_aborting"})
            return
        running = self.running_jobs()
        if running:
            log.warning("stopping: finishing %d running job(s); a second Ctrl-C (or SIGTERM) "
                        "kills them and hands them back", running,
                        extra={"event": "pool_stopping", "running": running})
        else:  # nothing to warn of: the stop asked for is done at once
            log.info("stopping: no job is running",
                        extra={"event": "pool_stopping", "running": 0})

    def _after_exit(self, child: Child, status: int) -> list[tuple[float, int]]:
        code = os.waitstatus_to_exitcode(status)
        if code == 0 or self.stopping:
            # A worker exits 0 only when told to stop (`worker stop`, or a signal sent to it
            # alone): so do we all. Say it, or the others would run on unsupervised.
            if not self.stopping:
                self._tell(StopLevel.GRACEFUL)
            self.stopping = True
            return []
        if time.monotonic() - child.started > STABLE_AFTER:
            self.crashes[child.slot] = 0  # one crash a day must not cost 10 s each time
        self.crashes[child.slot] += 1
        delay = min(0.1 * 2 ** self.crashes[child.slot], RESTART_DELAY_MAX)
        # The store opened before the pool started (check_store): one that cannot be opened
        # now is an outage, which ends; the worker is restarted as after a crash.
        why = "could not open the store" if code == EXIT_STORE else f"died ({_describe(code)})"
        log.warning("worker %d %s; restarting in %.1fs", child.pid, why, delay,
                    extra={"event": "worker_restarting", "error": why, "retry_in_s": delay})
        return [(time.monotonic() + delay, child.slot)]


def _describe(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _worker_main(url: str, queues: Sequence[str], supervisor_fd: int, ready_fds: list[int],
                 job_group: Callable[[int], None] | None = None,
                 relayed: WorkerSide | None = None, recovery_clock: RecoveryClock | None = None,
                 worker_id: str | None = None, gpus: Sequence[int] = (),
                 gate: WorkerGate | None = None, pace: PoolPace | None = None) -> int:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    proctitle.set_title("worker", url)
    from queuectl.pool.worker import Worker
    from queuectl.storage import open_store

    try:
        store = open_store(url, durable=False, gate=gate)
    except QueuectlError as exc:
        log.error("%s", exc, extra={"event": "store_unavailable", "error": str(exc)})
        return EXIT_STORE
    os.set_blocking(supervisor_fd, False)

    def ready() -> None:
        for fd in ready_fds:  # --detach's parent, the supervisor's report: "registered"
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)

    try:
        return Worker(store, queues, supervisor_fd, job_group=job_group, relayed=relayed,
                      recovery_clock=recovery_clock, worker_id=worker_id,
                      url=url, gpus=gpus, gate=gate, pace=pace).run(on_ready=ready)
    finally:
        store.close()


def pool_slots(count: int) -> int:
    """How many server connections a pool of ``count`` workers holds at most (pool/gate.py:
    $QUEUECTL_POOL_CONNECTIONS, else one per worker). Raises InvalidValue
    for a value that is no whole number ≥ 1."""
    try:
        return slots_from(os.environ, count)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def check_store(url: str) -> None:
    """Open and close the store once, so a bad URL is one clear error before any fork."""
    from queuectl.storage import open_store

    open_store(url).close()


def run_foreground(url: str, count: int, queues: Sequence[str],
                   log_format: LogFormat = "text", gpus: Sequence[int] = ()) -> int:
    """Run the pool in this process until it is stopped; the exit code (Supervisor.run:
    0, or 128 + N when signal N aborted the running jobs). Under systemd (``$NOTIFY_SOCKET``
    set, `Type=notify`) this process is the service's main one and reports to it."""
    check_store(url)
    if store_type(url).server_connections:  # (a bad value: one clear error, before any fork)
        pool_slots(count)
    configure_logging(log_format)
    if log_format == "json":  # the CLI's "starting..." line, which only the text log has
        log.info("starting %d worker(s) on %s", count, redact_url(url),
                 extra={"event": "pool_starting", "workers": count, "store": redact_url(url),
                        "queues": list(queues)})
    return Supervisor(url, count, queues, notifier=Notifier.from_environ(), gpus=gpus).run()


@dataclass(frozen=True)
class Detached:
    """A pool started in the background: whom to signal, who works, where it logs."""

    supervisor: int  # pid: SIGTERM stops the pool gracefully, as `worker stop` does
    workers: list[int]  # pids
    log_path: str

    def to_dict(self) -> dict[str, object]:
        return {"supervisor": self.supervisor, "pids": self.workers, "log": self.log_path}


def run_detached(url: str, count: int, queues: Sequence[str],
                 log_format: LogFormat = "text", gpus: Sequence[int] = ()) -> Detached:
    """Start a detached supervisor; return its pid and the workers' once every worker is
    ready. Raises StoreUnavailable when fewer than ``count`` workers came up in time."""
    check_store(url)
    if store_type(url).server_connections:
        pool_slots(count)
    # A detached supervisor is not the service's main process, which the manager would
    # refuse to hear; nor must its jobs inherit the socket. (Units run the foreground pool.)
    Notifier.from_environ()
    log_file = log_path(url)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _daemonize(log_file)
        code = 1
        try:
            configure_logging(log_format)
            code = Supervisor(url, count, queues, ready_fd=ready_w, gpus=gpus).run()
        finally:
            os._exit(code)
    os.close(ready_w)
    supervisor, pids = _read_pids(ready_r, count)
    os.close(ready_r)
    os.waitpid(pid, 0)  # the intermediate process exits as soon as it has forked
    if len(pids) < count or supervisor is None:
        # Reported as failed, so not left running: a pool the user was told did not start
        # must not take jobs behind their back (or hold the store's connections).
        if supervisor is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(supervisor, signal.SIGTERM)  # graceful: a job already taken finishes
        raise StoreUnavailable(f"only {len(pids)} of {count} workers started (the pool was "
                               f"stopped); see {log_file}")
    return Detached(supervisor, pids, log_file)


def _daemonize(log_file: str) -> None:
    """Leave the terminal's session; the second fork makes sure we never get one back."""
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(devnull)
    os.close(out)


def log_path(url: str) -> str:
    """The log file of the detached pools of the store ``url``, made private if new:
    ``$QUEUECTL_HOME/logs/workers-NAME-DIGEST.log``, one per store, so that pools of
    different stores (a text log and a JSON one, say) never write into one file. NAME is
    the SQLite file's or PostgreSQL database's name, for people; DIGEST, 8 hex digits of
    the store's identity (the SQLite file's real path, or the database's user, host, port
    and name: never its password), tells apart stores of one name. Raises InvalidValue
    for a URL no store has."""
    name, identity = store_type(url).log_identity(url)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40]
    folder = os.path.join(data_dir(), "logs")
    make_private_dirs(folder)
    return os.path.join(folder, f"workers-{name}-{digest}.log")


def _read_pids(fd: int, count: int) -> tuple[int | None, list[int]]:
    """The supervisor's pid (its line is tagged) and the workers' pids, as they register."""
    deadline = time.monotonic() + READY_TIMEOUT
    buf = b""
    while buf.count(b"\n") < count + 1:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    supervisor, workers = None, []
    for line in buf.decode().splitlines():
        tag, _, pid = line.rpartition(" ")
        if tag == SUPERVISOR_TAG:
            supervisor = int(pid)
        else:
            workers.append(int(pid))
    return supervisor, workers
