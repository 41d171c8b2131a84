"""How long retention's batches hold SQLite's write lock, against what a claim waits for.

Seeds a SQLite store with finished jobs an hour old (each with one attempt and 200 bytes of
output), then deletes them all the way a worker does (``prune_finished`` in batches),
timing how long each batch holds the write lock. The WAL is checkpointed between batches,
outside the lock, as a pool's supervisor does (pool/checkpointer.py). The yardstick is
the lock hold of a worker's own transaction on the same store (``finish_and_claim`` of a
job with a little output): it is what a claim waits for whenever two workers meet.

    python -m bench.prune [--jobs 1000000] [--batch 100 ...]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.seed import seed
from queuectl.models import AttemptResult, Job, JobSpec, Outcome, WorkerInfo, utcnow
from queuectl.retry import NextStep, after_failure
from queuectl.storage.sqlite import SQLiteStorage
from queuectl.transitions import after_attempt

OUTPUT_BYTES = 200  # per seeded attempt
YARDSTICK_JOBS = 2000  # worker transactions timed for the yardstick


class LockTimer:
    """Wraps a store's write transaction: records how long each one held the lock (from
    the lock taken to the commit done)."""

    def __init__(self, store: SQLiteStorage) -> None:
        self.holds: list[float] = []
        self._write = store._write  # noqa: SLF001 - a benchmark measures the inside
        store._write = self.timed  # type: ignore[method-assign]  # noqa: SLF001

    @contextlib.contextmanager
    def timed(self) -> Iterator[sqlite3.Connection]:
        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(self._write())
            began = time.perf_counter()
            stack.callback(lambda: self.holds.append(time.perf_counter() - began))
            yield conn


def _figures(holds: list[float]) -> str:
    ms = sorted(h * 1000 for h in holds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"n={len(ms)} p50={statistics.median(ms):.2f} ms p99={p99:.2f} ms "
            f"max={ms[-1]:.2f} ms")


def yardstick(path: str) -> list[float]:
    """Lock holds of a worker's finish-and-claim, one job after another."""
    store = SQLiteStorage(path, durable=False)
    try:
        store.enqueue([JobSpec("true", max_retries=0) for _ in range(YARDSTICK_JOBS)])
        now = utcnow()
        store.register_worker(WorkerInfo("bench-w", "bench", 1, "idle", None, now, now))
        timer = LockTimer(store)
        job = store.claim("bench-w")
        result = AttemptResult(Outcome.SUCCEEDED, exit_code=0, output=b"x" * OUTPUT_BYTES)
        while job is not None:
            step = after_attempt(job, result, _policy)
            _, job = store.finish_and_claim(job, "bench-w", result, step)
            store.checkpoint()
        return timer.holds
    finally:
        store.close()


def _policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2.0, 60.0)


def prune_all(path: str, batch: int) -> tuple[list[float], float, int]:
    """(lock holds of every batch, seconds for the whole, jobs deleted)."""
    store = SQLiteStorage(path, durable=False)
    try:
        timer = LockTimer(store)
        began, deleted = time.monotonic(), 0
        while (n := store.prune_finished(60.0, batch)) > 0:
            deleted += n
            store.checkpoint()  # as a pool's supervisor does, outside any transaction
        return timer.holds, time.monotonic() - began, deleted
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for batch in args.batch:
            path = str(Path(tmp) / f"prune-{batch}.db")
            took = seed(path, finished=args.jobs, pending=0)
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE attempts SET output = randomblob(?)", (OUTPUT_BYTES,))
            print(f"seeded {args.jobs} finished jobs in {took:.1f} s")
            holds, spent, deleted = prune_all(path, batch)
            print(f"batch {batch}: deleted {deleted} in {spent:.1f} s; lock held {_figures(holds)}")
            print(f"yardstick (finish_and_claim on the emptied store): {_figures(yardstick(path))}")


if __name__ == "__main__":
    main()
