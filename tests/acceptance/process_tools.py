"""Looking at real processes from a test: is a pid alive, does a process group survive,
freezing a worker, and running `queuectl` when its output is bytes rather than text."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import QUEUECTL, Cli, wait_until


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie nobody has reaped yet counts as dead."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def read_pid(path: Path, timeout: float = 15) -> int:
    wait_until(lambda: path.exists() and path.read_text().strip() != "", timeout=timeout,
               what=f"{path.name} to be written")
    return int(path.read_text().strip())


def assert_group_gone(pgid: int, *pids: int, timeout: float = 5) -> None:
    """Every process of the group (and the given pids) is gone, soon."""
    wait_until(lambda: not group_members(pgid) and not any(alive(p) for p in pids),
               timeout=timeout, what=f"process group {pgid} to be gone")


def freeze(pid: int, db_url: str, timeout: float = 10) -> None:
    """SIGSTOP ``pid`` at a moment it holds no write lock on the SQLite store ``db_url``.

    A process stopped inside a write transaction keeps the store's write lock (an fcntl
    lock on the -shm file) until it runs again, and nothing can take it from a live
    process: every other writer, the worker that is to take its job over included, would
    wait for its SIGCONT. Stopped, a process can neither take nor drop a lock, so the look
    at /proc/locks is exact; if it holds one, it runs on for a moment and is stopped
    again. (A PostgreSQL worker's heartbeat is one statement: no lock outlives it.)"""
    deadline = time.monotonic() + timeout
    while True:
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: (_stat(pid) or ["T"])[0] in ("T", "t", "Z", "X"), timeout=5,
                   interval=0.001, what=f"{pid} to stop")
        if not store_locks_held(pid, db_url):
            return
        os.kill(pid, signal.SIGCONT)
        if time.monotonic() > deadline:
            raise AssertionError(f"{pid} held a lock on the store every time it was stopped")
        time.sleep(0.002)


def store_locks_held(pid: int, db_url: str) -> list[str]:
    """The write (fcntl WRITE) locks ``pid`` holds on the SQLite store's files, as "file
    offset"; none for PostgreSQL."""
    if "://" in db_url:
        return []
    files = {}
    for name in (db_url, f"{db_url}-shm", f"{db_url}-wal"):
        try:
            files[os.stat(name).st_ino] = os.path.basename(name)
        except FileNotFoundError:
            continue
    held = []
    for line in Path("/proc/locks").read_text().splitlines():
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 120 120" (blocked waiters have "->")
        fields = line.split()
        if len(fields) != 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        inode = int(fields[5].rsplit(":", 1)[1])
        if int(fields[4]) == pid and inode in files:
            held.append(f"{files[inode]} {fields[6]}")
    return held


def run_bytes(cli: Cli, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`queuectl ARGS` with stdout kept as bytes (captured job output may be binary)."""
    return subprocess.run([QUEUECTL, *args], capture_output=True, env=cli.env, cwd=cli.cwd,
                          timeout=60)
