"""The CLI run in the test's own process: the same entry point as the installed `queuectl`
(``queuectl.cli.entry.main``), with the test's environment, working directory, stdin,
stdout and stderr, and its exit code, but without the ~0.2 s of CPU a new interpreter costs.

For parsing, refusals and the read/enqueue/control commands. What needs a real process
(signals, process groups, a pool, `| head`, an environment read at import such as
QUEUECTL_HOST_ID) stays with ``tests.helpers.Cli``.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from queuectl.cli import entry
from tests.helpers import Cli

# Read by a process before any command runs (at import, or by the dynamic loader): a command
# whose environment sets them differently from this process's must run as a process.
_PROCESS_WIDE = ("QUEUECTL_HOST_ID", "LD_PRELOAD")

# One in-process command at a time: os.environ, the cwd and sys.std* belong to the process.
_one_at_a_time = threading.Lock()


def can_run(env: Mapping[str, str]) -> bool:
    """Whether a command with ``env`` behaves in-process as it would as a process."""
    return all(env.get(name) == os.environ.get(name) for name in _PROCESS_WIDE)


def run_main(args: list[str], env: Mapping[str, str], cwd: Path, input: str | bytes | None = None,
             fast_path: bool = True) -> subprocess.CompletedProcess[str]:
    """``queuectl ARGS`` in this process: a CompletedProcess as ``subprocess.run(...,
    text=True)`` would give (argv ``["queuectl", *args]``).

    ``fast_path=False`` switches the click-free enqueue path off, so that the same line goes
    through click. os.environ, the working directory, sys.std* and the signal handlers are
    restored afterwards, whatever the command did. Raises AssertionError when ``env`` sets
    what only a new process would honour (``can_run``)."""
    if not can_run(env):
        raise AssertionError(f"{_PROCESS_WIDE} are read as a process starts: run it as one")
    data = input.encode("utf-8", "surrogateescape") if isinstance(input, str) else input
    stdin = io.TextIOWrapper(io.BytesIO(data or b""), encoding="utf-8")
    out, err = io.BytesIO(), io.BytesIO()
    # The errors handlers a child interpreter gives its streams: strict stdout, escaped stderr.
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace",
                              write_through=True)
    with _one_at_a_time, _process_state(env, cwd, stdin, stdout, stderr):
        code = _main(args, fast_path)
    return subprocess.CompletedProcess(
        ["queuectl", *args], code, out.getvalue().decode("utf-8", "replace"),
        err.getvalue().decode("utf-8", "replace"))


def _main(args: list[str], fast_path: bool) -> int:
    from queuectl.cli import fastpath

    if fast_path:
        return entry.main(args)
    saved = fastpath.run
    fastpath.run = lambda argv: None
    try:
        return entry.main(args)
    finally:
        fastpath.run = saved


@contextmanager
def _process_state(env: Mapping[str, str], cwd: Path, stdin: io.TextIOWrapper,
                   stdout: io.TextIOWrapper, stderr: io.TextIOWrapper) -> Iterator[None]:
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM,
                                                            signal.SIGHUP, signal.SIGQUIT)}
    os.environ.clear()
    os.environ.update(env)
    _tzset_if_changed(saved_env)
    os.chdir(cwd)
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        _tzset_if_changed(env)
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)


def _tzset_if_changed(before: Mapping[str, str]) -> None:
    if before.get("TZ") != os.environ.get("TZ"):
        time.tzset()


class InProcessCli(Cli):
    """``Cli`` whose commands run in-process (``run_main``); ``start_workers`` still starts
    a real pool, whose readiness it then reads in-process."""

    def run(self, *args: str, input: str | None = None, check: bool = False,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``timeout`` is the subprocess runner's: a command in-process cannot be cut off
        (pytest-timeout ends a test that hangs)."""
        done = run_main(list(args), self.env, self.cwd, input=input)
        if check and done.returncode != 0:
            raise AssertionError(f"queuectl {' '.join(args)} -> {done.returncode}: "
                                 f"{done.stderr}")
        return done
