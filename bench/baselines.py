"""The same-run baselines: the raw spawn ceiling and a bare interpreter start.

Spawn ceiling: N processes, each running ``/bin/sh -c true`` back to back in a new
session (setsid) with stdin from /dev/null and stdout+stderr appended to a file, through
os.posix_spawn (vfork+exec: the cheapest way Python can start a process). The rate is
spawns / (last exit - first start), the same window the queue figures use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from bench import stats


def _spawn_loop(count: int, out_path: str) -> tuple[float, float, float, float]:
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1),
               (os.POSIX_SPAWN_DUP2, out, 2)]
    argv = ["/bin/sh", "-c", "true"]
    env = dict(os.environ)
    before = os.times()
    start = time.time()
    for _ in range(count):
        pid = os.posix_spawn("/bin/sh", argv, env, file_actions=actions, setsid=True)
        os.waitpid(pid, 0)
    end = time.time()
    after = os.times()
    own = after.user + after.system - before.user - before.system
    shells = (after.children_user + after.children_system
              - before.children_user - before.children_system)
    return start, end, own, shells


def spawn_ceiling(procs: int, spawns_per_proc: int, workdir: str) -> Ceiling:
    """``/bin/sh -c true`` per second with ``procs`` processes spawning side by side, and
    the CPU per spawn of the spawning loops and of the shells."""
    children = []
    for n in range(procs):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os.close(read_fd)
            window = _spawn_loop(spawns_per_proc, os.path.join(workdir, f"spawn-{n}.out"))
            os.write(write_fd, json.dumps(window).encode())
            os._exit(0)
        os.close(write_fd)
        children.append((pid, read_fd))
    windows = []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as pipe:
            windows.append(json.loads(pipe.read()))
        os.waitpid(pid, 0)
    first = min(w[0] for w in windows)
    last = max(w[1] for w in windows)
    spawns = procs * spawns_per_proc
    return Ceiling(spawns / (last - first), sum(w[2] for w in windows) / spawns,
                   sum(w[3] for w in windows) / spawns)


@dataclass(frozen=True)
class Ceiling:
    per_s: float  # spawns per second
    loop_cpu: float  # seconds of the spawning loop's own CPU per spawn
    shell_cpu: float  # seconds of CPU per shell (the loop's reaped children)


Completed = subprocess.CompletedProcess[bytes]


def time_command(argv: list[str], env: dict[str, str] | None = None,
                 stdin: bytes | None = None) -> tuple[float, Completed]:
    """Wall seconds of one command, output captured."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, input=stdin, capture_output=True)
    return time.perf_counter() - start, proc


def python_start() -> float:
    """Wall seconds of one bare ``python3 -c pass`` (the interpreter the CLI runs on)."""
    return time_command([sys.executable, "-c", "pass"])[0]


def median_ms(samples: list[float]) -> float | None:
    value = stats.median(samples)
    return None if value is None else value * 1000
