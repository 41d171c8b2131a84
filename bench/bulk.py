"""Operator control at scale: a bulk cancel beside a user's enqueues, and `list --search`
over a million jobs.

- cancel: a fresh store with N pending jobs (default 100,000); `cancel --all` (the
  application layer's bulk action, 500 jobs per transaction) while a separate process (a
  client of the same store, as a second `queuectl enqueue` would be: bench.deps' probe)
  enqueues one job at a time; the cancel's wall time, and the probe's longest and median
  single enqueue.
- search: a fresh store seeded in SQL with M finished jobs (default 1,000,000, commands of
  about 50 characters; one in 1,000 tagged `rare`); `list --search` / `--tag` (limit 100, as
  the command's default: the newest documents.SEARCH_WINDOW jobs, then the check behind
  its note) when many jobs match, when few do, and when none does; beside it the same
  search over every job (the store's list_jobs without a window); the best and worst of
  a few runs.

Both stores; PostgreSQL in a throwaway database (bench/stores.py). Another tree's code
(an earlier revision's ``src``, first on PYTHONPATH) is measured the same way.

    python -m bench.bulk [--figures cancel search] [--backends sqlite postgres]
                         [--cancel-jobs 100000] [--search-jobs 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.seed import seed
from bench.stores import Unavailable, throwaway
from queuectl.app import control, documents
from queuectl.models import JobSpec
from queuectl.settings import is_postgres, sqlite_path
from queuectl.storage import open_store
from queuectl.storage.base import Storage

SETTLE = 0.2  # seconds of probe enqueues before and after, for its median
# What `list --search` / `--tag` looks for in the seeded store (ids `done-N`, commands
# `true`): every job, about eleven, none; a tag on one job in a thousand, and one no job has.
SEARCHES: list[tuple[str, dict[str, Any]]] = [
    ("text in every command", {"search": "REPORTS.build"}),
    ("text in ~11 ids (the oldest jobs)", {"search": "done-10000"}),
    ("text in no job", {"search": "no such text"}),
    ("a tag on 1 job in 1,000", {"tags": ["rare"]}),
    ("a tag no job has", {"tags": ["none"]}),
]
LIST_LIMIT = 100  # `list`'s default
# The seeded jobs' commands: as long as a typical one (about 50 characters), each different.
COMMAND = "'python -m reports.build --day ' || n || ' --out /srv/reports/daily'"


def cancel_figure(url: str, jobs: int) -> dict[str, float]:
    """Seconds to cancel ``jobs`` pending jobs in bulk, and the probe's waits beside it."""
    store = open_store(url)
    try:
        for start in range(0, jobs, 50_000):
            store.enqueue_ids([JobSpec("true", max_retries=0)
                               for _ in range(min(50_000, jobs - start))])
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.deps", "--probe", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(SETTLE)
        began = time.perf_counter()
        done = control.bulk(store, "cancel", control.JobFilter())
        took = time.perf_counter() - began
        time.sleep(SETTLE)
        child.stdin.close()
        found = json.loads(child.stdout.read())
        child.wait()
        assert done["count"] >= jobs, done["count"]
        return {"cancelled": done["count"], "cancel_s": took, "probe_max_s": found["max"],
                "probe_median_s": found["median"], "probe_n": found["n"],
                "probe_failed": found["failed"]}
    finally:
        store.close()


def tag_rare(url: str) -> None:
    """Tag one seeded job in a thousand `rare`, in SQL."""
    sql = "UPDATE jobs SET tags = '[\"rare\"]' WHERE seq % 1000 = 0"
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)
            conn.execute("VACUUM ANALYZE jobs")
    else:
        import sqlite3

        lite = sqlite3.connect(sqlite_path(url), isolation_level=None)
        lite.execute(sql)
        lite.close()


def timed(call: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """(best, worst) seconds of ``runs`` calls, and the last call's answer."""
    times, answer = [], None
    for _ in range(runs):
        began = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - began)
    return min(times), max(times), answer


def search_figure(url: str, jobs: int, runs: int) -> list[dict[str, object]]:
    took = seed(url, finished=jobs, pending=0, command=COMMAND)
    tag_rare(url)
    print(f"  seeded {jobs:,} jobs in {took:.0f} s", file=sys.stderr, flush=True)
    store: Storage = open_store(url)
    rows = []
    try:
        for what, given in SEARCHES:
            listed = timed(lambda g=given: as_listed(store, g), runs)  # type: ignore[misc]
            scanned = timed(lambda g=given: len(store.list_jobs(  # type: ignore[misc]
                limit=LIST_LIMIT, **g)), runs)
            rows.append({"search": what, "found": listed[2], "best_s": listed[0],
                         "worst_s": listed[1], "scan_found": scanned[2],
                         "scan_best_s": scanned[0], "scan_worst_s": scanned[1]})
    finally:
        store.close()
    return rows


def as_listed(store: Storage, given: dict[str, Any]) -> int:
    """What `list --search/--tag` reads: the newest jobs' matches (documents.SEARCH_WINDOW),
    then whether the window held them all (for its note); how many it found."""
    found = documents.list_jobs(store, limit=LIST_LIMIT, **given)
    searched_part = getattr(documents, "searched_part", None)  # None: a tree before it
    if searched_part is not None:
        searched_part(store, None, None, None, given.get("tags", ()), given.get("search"),
                      LIST_LIMIT, len(found))
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--figures", nargs="+", default=["cancel", "search"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--cancel-jobs", type=int, default=100_000)
    parser.add_argument("--search-jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            try:
                if "cancel" in args.figures:
                    with throwaway(backend, tmp) as url:
                        row = cancel_figure(url, args.cancel_jobs)
                    print(f"{backend:8} cancel --all of {row['cancelled']:,.0f}: "
                          f"{row['cancel_s']:.1f} s; an enqueue beside it: longest "
                          f"{row['probe_max_s'] * 1000:.0f} ms, median "
                          f"{row['probe_median_s'] * 1000:.1f} ms ({row['probe_n']:.0f} made, "
                          f"{row['probe_failed']:.0f} failed)", flush=True)
                if "search" in args.figures:
                    with throwaway(backend, tmp) as url:
                        for found in search_figure(url, args.search_jobs, args.runs):
                            print(f"{backend:8} list {found['search']:<34} found "
                                  f"{found['found']:>3}: {found['best_s']:.3f}-"
                                  f"{found['worst_s']:.3f} s; every job: found "
                                  f"{found['scan_found']:>3}: {found['scan_best_s']:.3f}-"
                                  f"{found['scan_worst_s']:.3f} s", flush=True)
            except Unavailable as exc:
                print(f"{backend}: skipped: {exc}")


if __name__ == "__main__":
    main()
