"""Drives queuectl like a user: the installed console script for every command, a few plain
SQL reads only to watch progress cheaply (polling with CLI processes would steal the CPU
that the workers are being measured on).

The reads name only columns every schema version has (``jobs.state``, ``workers.id`` and
``pid``), and never open the store through queuectl: the store of an older revision run
beside the working tree (``--against``) must not be migrated by the watcher."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

FINAL_STATES = "('completed', 'dead', 'cancelled')"


def console_script() -> str:
    """The installed `queuectl`, next to this interpreter (not a version-manager shim,
    which would add a shell start to every call)."""
    here = os.path.join(os.path.dirname(sys.executable), "queuectl")
    found = here if os.path.exists(here) else shutil.which("queuectl")
    if not found:
        raise SystemExit("bench: the queuectl console script is not installed (pip install -e .)")
    return found


class Watch:
    """Plain SQL reads of a store's progress: a sqlite3 or psycopg connection in autocommit,
    opened on first use (the store exists once a command or a worker has created it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query; ``?`` placeholders (turned into ``%s`` for PostgreSQL)."""
        if self._conn is None:
            self._conn = self._connect()
        if self.postgres:
            return list(self._conn.execute(sql.replace("?", "%s"), params).fetchall())
        return list(self._conn.execute(sql, params).fetchall())

    @property
    def postgres(self) -> bool:
        return self.url.startswith(("postgres://", "postgresql://"))

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        import sqlite3

        if not os.path.exists(self.url):
            raise FileNotFoundError(self.url)
        return sqlite3.connect(self.url, isolation_level=None, timeout=30)

    def finished(self) -> int:
        """Jobs completed, dead or cancelled in the whole store (0 before it exists)."""
        rows = self._or_none(f"SELECT count(*) FROM jobs WHERE state IN {FINAL_STATES}", "jobs")
        return int(rows[0][0]) if rows else 0

    def worker_pids(self) -> dict[str, int]:
        """Registered worker id -> pid (nothing before the store exists)."""
        return {str(i): int(p) for i, p in self._or_none("SELECT id, pid FROM workers", "workers")}

    def _or_none(self, sql: str, table: str) -> list[tuple[Any, ...]]:
        """The rows, or none while the store or its ``table`` is not created yet."""
        try:
            return self.rows(sql)
        except FileNotFoundError:
            return []
        except Exception as exc:
            if table not in str(exc):
                raise
            self.close()  # a fresh connection sees the schema once it is there
            return []

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Queuectl:
    def __init__(self, url: str, workdir: str, pythonpath: str | None = None) -> None:
        """``pythonpath``: a revision's ``src`` put first on PYTHONPATH, so that every
        command and worker runs that revision's code (through the same console script)."""
        self.url = url
        self.workdir = workdir
        self.exe = console_script()
        home = os.path.join(workdir, "home")
        self.env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": home}
        self.env.pop("NO_COLOR", None)
        if pythonpath:
            self.env["PYTHONPATH"] = pythonpath
        self.watch = Watch(url)
        self._workers: list[subprocess.Popen[bytes]] = []
        self._pids: list[int] = []

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
            self.wait_for(lambda: len(self._children(proc.pid)) >= count, 30, "workers up")
            self._pids = self._children(proc.pid)
        return proc

    def _children(self, supervisor: int) -> list[int]:
        """Registered workers in this pool's session (started with ``start_new_session``;
        rows of stopped pools may linger in the table)."""
        return sorted(p for p in self.watch.worker_pids().values() if _session(p) == supervisor)

    def worker_pids(self) -> list[int]:
        """The pids of the workers of the pool started last."""
        return list(self._pids)

    def worker_pid(self, worker_id: str) -> int:
        return self.watch.worker_pids()[worker_id]

    def finished(self) -> int:
        return self.watch.finished()

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
            return self.watch.finished() >= total_final

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
        self.watch.close()


def _session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return int(f.read().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


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
    """The CPU time of a process itself (seconds; see cpu_split)."""
    return cpu_split(pid)[0]


def cpu_split(pid: int) -> tuple[float, float]:
    """(the process's own CPU time, that of its children it has waited for), seconds: a
    worker's own CPU, and the CPU of the jobs' shells it has reaped. The own time is the
    scheduler's (/proc/PID/schedstat, nanoseconds) where the kernel keeps it, else
    utime + stime in clock ticks; the children's is always in ticks."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    try:  # the scheduler's own count, in ns: /proc/PID/stat's ticks are 10 ms
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            own = int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    return own, (int(fields[13]) + int(fields[14])) / tick
