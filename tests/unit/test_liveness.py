"""Whether a worker's process runs, as recovery judges it on the worker's own host."""

from __future__ import annotations

import os
import signal
import subprocess

from queuectl.storage.liveness import pid_alive


def test_a_running_process_is_alive() -> None:
    assert pid_alive(os.getpid())


def test_a_reaped_process_is_gone() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert not pid_alive(child.pid)


def test_a_killed_process_not_yet_reaped_is_gone() -> None:
    """A zombie answers signal 0; a pool killed with -9 under an init that never reaps
    would otherwise be taken for alive until its lease ran out."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(child.pid, signal.SIGKILL)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, still unreaped
        assert not pid_alive(child.pid)
    finally:
        child.wait()
