"""When is a worker lost? Liveness lives in the store (heartbeats), so it holds across hosts;
where a worker's pid is this process's to judge (the same host, boot and PID namespace) a
dead pid settles it at once instead of after a whole lease. A host name alone never makes
a pid comparable: containers sharing the host's network share its name but not its pids,
and a worker row left by a previous boot names a pid of that boot.

A claim is a sign of life too: a worker back from a silence may claim a job before its next
heartbeat, and that job is then held by a live worker. Whether a worker holds a job is read
from the job's row (its worker and attempt number), never from the worker's own row."""

from __future__ import annotations

import os
from collections.abc import Iterable

from queuectl.hostinfo import pid_scope
from queuectl.models import WorkerInfo
from queuectl.records import replace
from queuectl.settings import Config

# Hosts are told apart by this id; QUEUECTL_HOST_ID lets two pools on one machine act
# as two hosts (and containers sharing a store pick their own).
# os.uname's nodename is what socket.gethostname() returns (both read the kernel's host
# name), without importing socket into every command.
HOST_ID = os.environ.get("QUEUECTL_HOST_ID") or os.uname().nodename
# The boot and PID namespace this process's pids belong to (hostinfo.pid_scope), written
# beside each worker's pid: whatever QUEUECTL_HOST_ID says, a pid is judged only here.
PID_SCOPE = pid_scope()

# A worker as recovery judges it: id, host, pid scope, pid, and its last sign of life in
# epoch ms (its heartbeat, or its latest claim of a job it still holds, whichever came later).
Vitals = tuple[str, str, str, int, int]


def lease_seconds(stored_config: dict[str, str]) -> float:
    return Config.from_stored(stored_config).lease_timeout


def pid_alive(pid: int) -> bool:
    """Whether the process runs: it exists and is not a zombie (a process killed with -9
    whose parent has not reaped it yet, or never will under an init that does not reap, as
    in a container without one, still answers signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # "pid (comm) S ...": comm may hold spaces and parentheses; the state follows
            # the last ")".
            return f.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except OSError:
        return False  # no /proc: signal 0 said it exists


def process_gone(host: str, scope: str, pid: int) -> bool:
    """The worker's pid is ours to judge (this host, and ``scope``, its boot and PID
    namespace, are this process's) and its process has exited. A worker of another scope,
    or one that could not say its scope (""), is never judged by its pid."""
    return host == HOST_ID and scope == PID_SCOPE != "" and not pid_alive(pid)


def is_lost(worker: WorkerInfo, now: float, lease_timeout: float) -> bool:
    """Silent longer than the lease, or (where its pid is ours to judge) its process is gone."""
    if now - worker.heartbeat_at.timestamp() > lease_timeout:
        return True
    return process_gone(worker.host, worker.pid_scope, worker.pid)


def shown_state(worker: WorkerInfo, now: float, lease_timeout: float) -> str:
    """The state every reader shows: ``lost`` when ``is_lost``, else the worker's own
    (``idle`` or ``busy``, read from the jobs it holds)."""
    return "lost" if is_lost(worker, now, lease_timeout) else worker.state


def judged(workers: Iterable[WorkerInfo], now: float, lease_timeout: float) -> list[WorkerInfo]:
    """``workers`` with their shown state (see ``shown_state``); ``now`` in epoch seconds by
    the store's clock, ``lease_timeout`` in seconds."""
    return [replace(w, state=shown_state(w, now, lease_timeout)) for w in workers]


def lost_workers(
    workers: Iterable[Vitals], cutoff_ms: int | None
) -> tuple[list[str], list[str]]:
    """(dead, silent): the workers whose process is gone (where their pid is ours to judge),
    and those with no sign of life since ``cutoff_ms`` (None: silence is not judged)."""
    dead: list[str] = []
    silent: list[str] = []
    for worker_id, host, scope, pid, last_sign_ms in workers:
        if process_gone(host, scope, pid):
            dead.append(worker_id)
        elif cutoff_ms is not None and last_sign_ms < cutoff_ms:
            silent.append(worker_id)
    return dead, silent
