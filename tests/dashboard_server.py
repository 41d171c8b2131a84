"""A real `queuectl dashboard` in a subprocess, for acceptance and browser tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.helpers import QUEUECTL, Cli

READY_TIMEOUT = 30.0  # seconds for the server to print its address and answer


@contextmanager
def dashboard(cli: Cli, *flags: str) -> Iterator[str]:
    """Start `queuectl dashboard --port 0 FLAGS` on the test store; yield its base URL."""
    env = {k: v for k, v in cli.env.items() if k != "QUEUECTL_DASHBOARD_TOKEN"}
    proc = subprocess.Popen([QUEUECTL, "dashboard", "--port", "0", *flags], env=env,
                            cwd=cli.cwd, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        yield wait_answering(proc)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _address(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the first line names the address (the port was 0)
        seen.append(line)
        found = re.search(r"(http://[^ /]+)/", line)
        if found:
            return found.group(1)
    raise AssertionError(f"dashboard exited with {proc.wait()}: {''.join(seen)}")


def wait_answering(proc: subprocess.Popen[str]) -> str:
    """The base URL of the dashboard ``proc`` (started with --port 0 and stderr piped),
    once it answers."""
    base = _address(proc)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited with {proc.returncode}")
        try:
            httpx.get(base + "/favicon.ico", timeout=1)
            return base
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("dashboard did not answer")
