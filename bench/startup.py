"""The `cli` figure: each short command beside the least Python program doing the same work.

Every round runs, back to back: the minimal program, the working tree's command and (with
``--against REV``) the same command from REV's source. Rounds alternate, so a busy machine
slows all of them alike; medians of each, and their ratios to the minimal program, are
reported.

The minimal programs start the same interpreter and do only the store work: for an
enqueue, import the driver, open the store, one write transaction (SQLite: WAL,
``synchronous=FULL``, ``BEGIN IMMEDIATE`` + INSERT + COMMIT; PostgreSQL: one autocommit
INSERT); for a read, one SELECT printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from bench import baselines, revision, stores
from bench.driver import console_script
from bench.stats import median, rnd

SQLITE_WRITE = """import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA synchronous=FULL")
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO minimal(command) VALUES ('true')")
c.execute("COMMIT")
"""
SQLITE_READ = """import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
"""
PG_WRITE = """import psycopg, sys
c = psycopg.connect(sys.argv[1], autocommit=True)
c.execute("INSERT INTO minimal(command) VALUES ('true')")
"""
PG_READ = """import psycopg, sys
c = psycopg.connect(sys.argv[1], autocommit=True)
print(c.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
"""
# command -> (queuectl arguments, kind of minimal program, target ratio per backend)
COMMANDS: dict[str, tuple[list[str], str, dict[str, float]]] = {
    "enqueue -c true": (["enqueue", "-c", "true"], "write", {"sqlite": 1.5, "postgres": 1.2}),
    "status": (["status"], "read", {"sqlite": 3.0}),
    "list": (["list"], "read", {"sqlite": 3.0}),
    "show ID": (["show", "{id}"], "read", {"sqlite": 3.0}),
}
SEED_JOBS = 20
# An enqueue as most users run it: no --db, no QUEUECTL_DB, the store found under $HOME.
DEFAULT_STORE_ENQUEUE = "enqueue -c true (default store)"


def _bytecode_cached(workdir: str) -> dict[str, str]:
    """Every program runs from compiled bytecode, as an installed queuectl does (pip
    compiles it at install): an environment with PYTHONDONTWRITEBYTECODE set had every
    round compile each of queuectl's modules from source (an editable install keeps no
    bytecode), which measured the compiler, not the start-up. The cache is the run's own,
    for both revisions and the minimal programs alike; the warm-up rounds fill it."""
    return {"PYTHONPYCACHEPREFIX": os.path.join(workdir, "bytecode")}


def cli(backend: str, workdir: str, runs: int, against: str | None) -> dict[str, Any]:
    """Medians (ms) of each command and its minimal program, over ``runs`` alternating
    rounds; with ``against``, the same commands run from that revision's source too."""
    with stores.throwaway(backend, workdir) as url, revision.exported(against) as old_src:
        env = {**os.environ, "QUEUECTL_HOME": os.path.join(workdir, f"home-startup-{backend}"),
               "QUEUECTL_DB": url, **_bytecode_cached(workdir)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        exe = console_script()
        job_id = _seed(exe, env)
        minimal_db = _minimal_store(backend, url, workdir)
        programs = {"write": PG_WRITE if backend == "postgres" else SQLITE_WRITE,
                    "read": PG_READ if backend == "postgres" else SQLITE_READ}
        read_target = url if backend == "postgres" else os.path.abspath(url)
        targets = {"write": minimal_db, "read": read_target}
        old_env = {**env, "PYTHONPATH": old_src} if old_src else None
        out: dict[str, Any] = {"runs": runs, "against": against}
        for name, (args, kind, goals) in COMMANDS.items():
            argv = [exe, *(a.format(id=job_id) for a in args)]
            minimal = [sys.executable, "-c", programs[kind], targets[kind]]
            out[name] = _alternate(argv, minimal, env, old_env, runs, goals.get(backend))
        if backend == "sqlite":
            home = {**{k: v for k, v in env.items() if not k.startswith("QUEUECTL_")},
                    "HOME": os.path.join(workdir, "home-default")}
            home.pop("XDG_DATA_HOME", None)
            old_home = {**home, "PYTHONPATH": old_src} if old_src else None
            minimal = [sys.executable, "-c", programs["write"], targets["write"]]
            out[DEFAULT_STORE_ENQUEUE] = _alternate(
                [exe, "enqueue", "-c", "true"], minimal, home, old_home, runs,
                COMMANDS["enqueue -c true"][2]["sqlite"])
    return out


def _alternate(argv: list[str], minimal: list[str], env: dict[str, str],
               old_env: dict[str, str] | None, runs: int, goal: float | None) -> dict[str, Any]:
    for _ in range(2):  # warm the page cache
        _timed(minimal, env)
        _timed(argv, env)
    least: list[float] = []
    now: list[float] = []
    old: list[float] = []
    for _ in range(runs):
        least.append(_timed(minimal, env))
        now.append(_timed(argv, env))
        if old_env is not None:
            old.append(_timed(argv, old_env))
    fig: dict[str, Any] = {"minimal_ms": _ms(least), "queuectl_ms": _ms(now),
                           "ratio": _ratio(now, least), "target": goal}
    if old:
        fig.update(against_ms=_ms(old), against_ratio=_ratio(old, least),
                   speedup=_ratio(old, now))
    return fig


def _timed(argv: list[str], env: dict[str, str]) -> float:
    seconds, proc = baselines.time_command(argv, env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {proc.stderr.decode(errors='replace')}")
    return seconds


def _ms(samples: list[float]) -> float | None:
    value = median(samples)
    return None if value is None else rnd(value * 1000, 1)


def _ratio(samples: list[float], base: list[float]) -> float | None:
    a, b = median(samples), median(base)
    return None if a is None or not b else rnd(a / b, 2)


def _seed(exe: str, env: dict[str, str]) -> str:
    """A few jobs, so that the reads have rows to show; the id of the last one."""
    job_id = ""
    for _ in range(SEED_JOBS):
        proc = subprocess.run([exe, "enqueue", "-c", "true"], env=env, capture_output=True,
                              check=True, text=True)
        job_id = proc.stdout.strip()
    return job_id


def _minimal_store(backend: str, url: str, workdir: str) -> str:
    """Where the minimal write program inserts: a table of its own, WAL mode for SQLite."""
    ddl = "CREATE TABLE minimal (id {pk}, command TEXT NOT NULL)"
    if backend == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ddl.format(pk="BIGSERIAL PRIMARY KEY"))  # type: ignore[arg-type]
        return url
    import sqlite3

    path = os.path.join(workdir, f"minimal-{os.getpid()}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(ddl.format(pk="INTEGER PRIMARY KEY"))
    conn.close()
    return path


def rows(backend: str, fig: dict[str, Any]) -> list[list[Any]]:
    """Table rows: command, backend, queuectl ms, minimal ms, ratio, target, ok."""
    out: list[list[Any]] = []
    for name in [*COMMANDS, DEFAULT_STORE_ENQUEUE]:
        if name not in fig:
            continue
        f = fig[name]
        goal = f["target"]
        base = f"least Python {f['minimal_ms']}"
        if "against_ms" in f:
            base += f"; {fig['against']} {f['against_ms']} ({f['against_ratio']} x)"
        out.append([f"{name} (ms)", backend, f["queuectl_ms"], base, f["ratio"],
                    f"<= {goal}" if goal else "(recorded)",
                    f["ratio"] <= goal if goal and f["ratio"] is not None else None])
    return out
