"""Driving the installed `queuectl` as a user would: subprocesses, signals, JSON."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

QUEUECTL = shutil.which("queuectl") or "queuectl"
STOP_GRACE = 1.0  # seconds a pool left running gets to stop gracefully when a test ends


class Cli:
    def __init__(self, db_url: str, home: Path, cwd: Path) -> None:
        self.db_url = db_url
        self.home = home
        self.cwd = cwd
        self.env = {**os.environ, "QUEUECTL_DB": db_url, "QUEUECTL_HOME": str(home)}
        self.env.pop("NO_COLOR", None)
        self.procs: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str, input: str | None = None, check: bool = False,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [QUEUECTL, *args], input=input, capture_output=True, text=True, env=self.env,
            cwd=self.cwd, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"queuectl {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc

    def ok(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input, check=True).stdout


    def enqueue(self, command: str, *flags: str) -> str:
        """A job put on the queue for the test to work on, by ``inline``: the id. A test of
        enqueue itself as a process (concurrent shells, the process's own context) uses
        ``run``."""
        return self.inline("enqueue", "-c", command, *flags).strip()

    def inline(self, *args: str) -> str:
        """`queuectl ARGS` by ``observe``, checked: its stdout. For the steps that set up
        (enqueue, config) or read what a test checks: they need no interpreter of their own,
        and the ~0.2 s of CPU each one cost (~600 in the acceptance tier) slowed the
        processes under test."""
        done = self.observe(*args)
        if done.returncode != 0:
            raise AssertionError(f"queuectl {' '.join(args)} -> {done.returncode}: {done.stderr}")
        return done.stdout

    def job(self, job_id: str) -> dict[str, Any]:
        """`show --json`, read in-process (``observe``)."""
        done = self.observe("show", job_id, "--json")
        if done.returncode != 0:
            raise AssertionError(f"queuectl show {job_id} -> {done.returncode}: {done.stderr}")
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def json(self, *args: str) -> Any:
        """`ARGS --json`, parsed; run by ``observe``: what the test reads or checks needs no
        interpreter of its own (a user's action that does goes through ``run``)."""
        done = self.observe(*args, "--json")
        if done.returncode != 0:
            raise AssertionError(f"queuectl {' '.join(args)} -> {done.returncode}: {done.stderr}")
        return json.loads(done.stdout)

    def observe(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command the test makes to wait for or check a state (`show`, `status`, `worker
        list`): run in-process through the console script's entry point, the same command
        without a new interpreter, which a poll would otherwise start every 50 ms (their
        CPU slowed the processes under test). As a process when the environment asks for
        one (tests.inprocess.can_run: a host id, a preloaded library)."""
        from tests.inprocess import can_run, run_main

        if not can_run(self.env):
            return self.run(*args)
        return run_main(list(args), self.env, self.cwd)

    def start_workers(self, count: int = 1, *flags: str, env: dict[str, str] | None = None
                      ) -> subprocess.Popen[bytes]:
        """Foreground `worker start` in its own session (its own process group, as a shell
        would give it), output to a file. Stopped at cleanup."""
        log = open(self.cwd / f"workers-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [QUEUECTL, "worker", "start", "--count", str(count), *flags],
            env={**self.env, **(env or {})}, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        # Count this pool's own workers: another pool's, already registered, must not
        # stand in for them.
        wait_until(lambda: self.workers_of(proc.pid) >= count, timeout=30,
                   what="workers to start")
        return proc

    def workers_of(self, supervisor: int) -> int:
        """How many registered workers are children of the pool `supervisor`."""
        proc = self.observe("worker", "list", "--json")
        if proc.returncode == 1 and _not_made_yet(proc.stderr):
            return 0  # the pool has not made its new store yet
        if proc.returncode != 0:
            raise AssertionError(f"queuectl worker list -> {proc.returncode}: {proc.stderr}")
        return sum(_parent(int(w["pid"])) == supervisor for w in json.loads(proc.stdout))

    def active_workers(self) -> int:
        proc = self.observe("status", "--json")
        if proc.returncode == 1 and _not_made_yet(proc.stderr):
            return 0  # the pool has not made its new store yet
        if proc.returncode != 0:
            raise AssertionError(f"queuectl status -> {proc.returncode}: {proc.stderr}")
        return int(json.loads(proc.stdout)["workers"]["active"])

    def wait_state(self, job_id: str, *states: str, timeout: float = 30) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def reached() -> bool:
            found.update(self.job(job_id))
            return found["state"] in states

        wait_until(reached, timeout=timeout, what=f"{job_id} to reach {states}")
        return found

    def cleanup(self) -> None:
        """Stop what the test started: a graceful stop first, then (a pool still finishing
        a long job) a second SIGTERM, which kills the jobs' process groups, then SIGKILL."""
        for signum, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGTERM, 15.0)):
            running = [proc for proc in self.procs if proc.poll() is None]
            for proc in running:
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                    os.killpg(proc.pid, signum)
            deadline = time.monotonic() + grace
            for proc in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.05,
               what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of spans open at one instant (an end at the very instant of a
    start closes first: the claim that follows a finish is stamped after it)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


PYTHON = sys.executable


def _not_made_yet(stderr: str) -> bool:
    """A reader's refusal of a store a pool has not created yet: no SQLite file, or a
    PostgreSQL database without the tables."""
    return "no store at" in stderr or "has no queuectl tables" in stderr


def _parent(pid: int) -> int | None:
    """The parent pid of a local process, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def ticks(cli: Cli, name: str) -> list[float]:
    """The ticks of the schedule's jobs (epoch seconds, from their ids), oldest first."""
    jobs = cli.json("list", "--cron", name, "--limit", "0")
    out = []
    for job in jobs:
        assert job["cron"] == name
        stamp = job["id"].split("@", 1)[1]
        out.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    return sorted(out)
