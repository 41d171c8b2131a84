"""When is a worker lost? Liveness lives in the store (heartbeats), so it holds across hosts;
on the worker's own host a dead pid settles it at once instead of after a whole lease.

A claim is a sign of life too: a worker back from a silence may claim a job before its next
heartbeat, and that job is then held by a live worker. Whether a worker holds a job is read
from the job's row (its worker and attempt number), never from the worker's own row."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import replace

from queuectl.models import WorkerInfo
from queuectl.settings import Config

# Hosts are told apart by this id; QUEUECTL_HOST_ID lets two pools on one machine act
# as two hosts (and containers sharing a store pick their own).
HOST_ID = os.environ.get("QUEUECTL_HOST_ID") or socket.gethostname()

# A worker as recovery judges it: id, host, pid, and its last sign of life in epoch ms (its
# heartbeat, or its latest claim of a job it still holds, whichever came later).
Vitals = tuple[str, str, int, int]


def lease_seconds(stored_config: dict[str, str]) -> float:
    return Config.from_stored(stored_config).lease_timeout


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def process_gone(host: str, pid: int) -> bool:
    """The worker ran on this host and its process has exited."""
    return host == HOST_ID and not pid_alive(pid)


def is_lost(worker: WorkerInfo, now: float, lease_timeout: float) -> bool:
    """Silent longer than the lease, or (on this host) its process is gone."""
    if now - worker.heartbeat_at.timestamp() > lease_timeout:
        return True
    return process_gone(worker.host, worker.pid)


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
    """(dead, silent): the workers whose process is gone (on this host), and those with no
    sign of life since ``cutoff_ms`` (None: silence is not judged)."""
    dead: list[str] = []
    silent: list[str] = []
    for worker_id, host, pid, last_sign_ms in workers:
        if process_gone(host, pid):
            dead.append(worker_id)
        elif cutoff_ms is not None and last_sign_ms < cutoff_ms:
            silent.append(worker_id)
    return dead, silent
