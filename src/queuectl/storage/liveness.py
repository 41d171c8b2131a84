"""When is a worker lost? Liveness lives in the store (heartbeats), so it holds across hosts;
on the worker's own host a dead pid settles it at once instead of after a whole lease."""

from __future__ import annotations

import os
import socket

from queuectl.models import WorkerInfo
from queuectl.settings import Config

# Hosts are told apart by this id; QUEUECTL_HOST_ID lets two pools on one machine act
# as two hosts (and containers sharing a store pick their own).
HOST_ID = os.environ.get("QUEUECTL_HOST_ID") or socket.gethostname()


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


def is_lost(worker: WorkerInfo, now: float, lease_timeout: float) -> bool:
    """Silent longer than the lease, or (on this host) its process is gone."""
    if now - worker.heartbeat_at.timestamp() > lease_timeout:
        return True
    return worker.host == HOST_ID and not pid_alive(worker.pid)
