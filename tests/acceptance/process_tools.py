"""Looking at real processes from a test: is a pid alive, does a process group survive,
and running `queuectl` when its output is bytes rather than text."""

from __future__ import annotations

import os
import subprocess
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


def run_bytes(cli: Cli, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`queuectl ARGS` with stdout kept as bytes (captured job output may be binary)."""
    return subprocess.run([QUEUECTL, *args], capture_output=True, env=cli.env, cwd=cli.cwd,
                          timeout=60)
