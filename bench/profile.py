"""python -m bench.profile [--against REV] [--backends sqlite,postgres] [--jobs N]

One worker (``--workers`` to change) drains N `true` jobs, profiled with cProfile from
its fork to its exit (bench/profiling/sitecustomize.py); for the working tree and, with
``--against``, for REV's code beside it. Printed per side: the worker's own CPU per job
(/proc, unprofiled run first), store statements and transactions per job (calls of the
drivers' execute/commit methods counted by the profile; for PostgreSQL also the server's
own count of committed transactions), and the functions with most own time per job.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import sys
import tempfile
from typing import Any

from bench import revision, stores
from bench.driver import Queuectl, cpu_split

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiling")
# (file part, function name) of the drivers' calls that send one statement / end a transaction
STATEMENTS = {("~", "<method 'execute' of 'sqlite3.Connection' objects>"),
              ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
              ("~", "<method 'executemany' of 'sqlite3.Connection' objects>"),
              ("psycopg/connection.py", "execute"), ("psycopg/cursor.py", "execute"),
              ("psycopg/cursor.py", "executemany")}
COMMITS = {("~", "<method 'commit' of 'sqlite3.Connection' objects>"),
           ("psycopg/connection.py", "commit")}


def drain(qc: Queuectl, jobs: int, queue: str, workers: int) -> float:
    """The workers' CPU seconds per job over one drain."""
    before = qc.finished()
    qc.start_workers(workers)
    pids = qc.worker_pids()
    cpu0 = sum(cpu_split(pid)[0] for pid in pids)
    qc.enqueue_many(jobs, queue=queue)
    qc.wait_finished(before + jobs)
    cpu = sum(cpu_split(pid)[0] for pid in pids) - cpu0
    qc.stop_workers()
    return cpu / jobs


def pg_commits(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


def side(backend: str, workdir: str, src: str | None, jobs: int, top: int,
         keep: str | None = None, workers: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with stores.throwaway(backend, workdir) as url:
        home = tempfile.mkdtemp(dir=workdir)
        path = os.pathsep.join(p for p in (src, HERE) if p)
        qc = Queuectl(url, home, pythonpath=path)
        try:
            where = revision.imported_from(qc.env)
            if (src is not None) != where.startswith(str(src)):
                raise RuntimeError(f"queuectl imported from {where}")
            out["cpu_us"] = round(drain(qc, jobs, "plain", workers) * 1e6)
            profdir = tempfile.mkdtemp(dir=workdir)
            qc.env["QUEUECTL_BENCH_PROFILE"] = profdir
            xact = pg_commits(url) if backend == "postgres" else None
            qc.start_workers(workers)
            pids = qc.worker_pids()
            before = qc.finished()
            qc.enqueue_many(jobs, queue="profiled")
            qc.wait_finished(before + jobs)
            qc.stop_workers()
            if xact is not None:
                # the enqueue --file and the watcher's reads are a handful, not per job
                out["server_commits_per_job"] = round((pg_commits(url) - xact) / jobs, 2)
            profs = [os.path.join(profdir, f"{pid}.prof") for pid in pids]
            stats = pstats.Stats(*profs)  # the workers together, per job of the drain
            if keep:
                os.makedirs(keep, exist_ok=True)
                for n, prof in enumerate(profs):
                    name = f"{backend}-{'rev' if src else 'tree'}-{n}.prof"
                    shutil.copy(prof, os.path.join(keep, name))
        finally:
            qc.close()
    out.update(_counts(stats, jobs, top))
    return out


def _counts(stats: pstats.Stats, jobs: int, top: int) -> dict[str, Any]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    statements = commits = 0
    rows = []
    for (file, _line, name), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        key = (next((k for k, _ in STATEMENTS | COMMITS if file.endswith(k) or file == k), ""),
               name)
        if key in STATEMENTS:
            statements += calls
        if key in COMMITS:
            commits += calls
        rows.append((tottime, cumtime, calls, f"{os.path.basename(file)}:{_line}({name})"))
    rows.sort(reverse=True)
    return {
        "statements_per_job": round(statements / jobs, 2),
        "commits_per_job": round(commits / jobs, 2),
        "top_own_us_per_job": [(round(t / jobs * 1e6, 1), round(c / jobs * 1e6, 1),
                                round(n / jobs, 2), where) for t, c, n, where in rows[:top]],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--against", metavar="REV")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--jobs", type=int, default=500)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--workers", type=int, default=1, help="pool size (default 1)")
    p.add_argument("--keep", metavar="DIR", help="copy the profiles there (BACKEND-SIDE.prof)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="queuectl-profile-") as workdir, \
            revision.exported(args.against) as src:
        for backend in args.backends.split(","):
            sides = {"tree": None, **({args.against: src} if args.against else {})}
            for name, code in sides.items():
                res = side(backend, workdir, code, args.jobs, args.top, args.keep, args.workers)
                print(f"== {backend} {name}: worker CPU {res['cpu_us']} us/job (unprofiled), "
                      f"statements {res['statements_per_job']}/job, commits "
                      f"{res['commits_per_job']}/job"
                      + (f", server commits {res['server_commits_per_job']}/job"
                         if "server_commits_per_job" in res else ""))
                print("   own us/job  cum us/job  calls/job  function")
                for own, cum, calls, where in res["top_own_us_per_job"]:
                    print(f"   {own:10}  {cum:10}  {calls:9}  {where}")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
