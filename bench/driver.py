"""Drives queuectl like a user: the installed console script for every command, the store
API only to watch progress cheaply (polling with CLI processes would steal the CPU that
the workers are being measured on)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from queuectl.storage import open_store


def console_script() -> str:
    """The installed `queuectl`, next to this interpreter (not a version-manager shim,
    which would add a shell start to every call)."""
    here = os.path.join(os.path.dirname(sys.executable), "queuectl")
    found = here if os.path.exists(here) else shutil.which("queuectl")
    if not found:
        raise SystemExit("bench: the queuectl console script is not installed (pip install -e .)")
    return found


class Queuectl:
    def __init__(self, url: str, workdir: str) -> None:
        self.url = url
        self.workdir = workdir
        self.exe = console_script()
        home = os.path.join(workdir, "home")
        self.env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": home}
        self.env.pop("NO_COLOR", None)
        self.store = open_store(url)
        self._workers: list[subprocess.Popen[bytes]] = []

    # --- commands -----------------------------------------------------------------------

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run([self.exe, *args], env=self.env, cwd=self.workdir, input=stdin,
                              capture_output=True)
        if proc.returncode != 0:
            raise RuntimeError(f"queuectl {' '.join(args)[:80]} -> {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def enqueue_many(self, count: int, command: str = "true", queue: str = "default") -> None:
        line = json.dumps({"command": command, "queue": queue}) + "\n"
        lines = line * count
        path = os.path.join(self.workdir, f"jobs-{queue}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(lines)
        self.run("enqueue", "--file", path)

    def jobs(self, queue: str) -> list[dict[str, Any]]:
        return self.json("list", "--queue", queue, "--limit", "0")  # type: ignore[no-any-return]

    # --- workers ------------------------------------------------------------------------

    def start_workers(self, count: int, wait: bool = True) -> subprocess.Popen[bytes]:
        log = open(os.path.join(self.workdir, "workers.log"), "ab")  # noqa: SIM115
        proc = subprocess.Popen([self.exe, "worker", "start", "--count", str(count)],
                                env=self.env, cwd=self.workdir, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._workers.append(proc)
        if wait:
            self.wait_for(lambda: self.store.stats().workers_active >= count, 30, "workers up")
        return proc

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.store.list_workers()]

    def stop_workers(self) -> None:
        for proc in self._workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._workers.clear()

    def wait_finished(self, total_final: int, timeout: float = 600) -> None:
        """Until ``total_final`` jobs are completed/dead/cancelled in the whole store."""

        def done() -> bool:
            counts = self.store.stats().counts
            return counts["completed"] + counts["dead"] + counts["cancelled"] >= total_final

        self.wait_for(done, timeout, f"{total_final} finished jobs", poll=0.1)

    @staticmethod
    def wait_for(cond: Any, timeout: float, what: str, poll: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(poll)

    def close(self) -> None:
        self.stop_workers()
        self.store.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (kB) of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (seconds)."""
    return cpu_split(pid)[0]


def cpu_split(pid: int) -> tuple[float, float]:
    """(the process's own utime + stime, that of its children it has waited for), seconds:
    a worker's own CPU, and the CPU of the jobs' shells it has reaped."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
