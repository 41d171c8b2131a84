"""python -m bench.heldback [--backends sqlite,postgres] [--held 100000] [--claims 20]

What jobs held back by flow control cost the work that is not held back: a store with
HELD due jobs in a queue whose limit is 0 (ahead of everything else: a higher priority,
enqueued first), beside a store with none, each serving the same other work. Measured per
call, as counts that do not move with the machine's load:

- the claim of a job of another queue (then its finish), and the idle plan read once no
  other work is left;
- SQLite: virtual-machine instructions of the store's connection (a progress handler
  called at every one); PostgreSQL: the rows the server read for the call (sequential and
  index tuples of every table, from pg_stat_xact_user_tables around the call, which runs in
  a transaction of the bench's own), with the table's statistics gathered after the jobs
  are enqueued, as autovacuum gathers them within a minute (a table just filled, with no
  statistics, is planned as if nearly empty), and before the idle plan is measured the
  index entries of the finished other work are cleared (VACUUM), as autovacuum does.

Printed: each figure with and without the held jobs, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from typing import Any

from bench import stores

OTHER = 60  # jobs of the queue that is not held back


def _counter(store: Any, backend: str) -> Callable[[Callable[[], object]], int]:
    """A function that runs a store call and returns what it cost (see the module's doc)."""
    if backend == "sqlite":
        conn = store._db  # the one connection every call of the store uses
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        conn.set_progress_handler(tick, 1)

        def sqlite_cost(call: Callable[[], object]) -> int:
            before = steps[0]
            call()
            return steps[0] - before

        return sqlite_cost
    conn = store._connection()
    read = ("SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) "
            "FROM pg_stat_xact_user_tables")

    def postgres_cost(call: Callable[[], object]) -> int:
        with conn.transaction():
            before = conn.execute(read).fetchone()[0]
            call()
            after = conn.execute(read).fetchone()[0]
        return int(after) - int(before)

    return postgres_cost


def measure(url: str, backend: str, held: int, claims: int) -> tuple[float, float]:
    """(claim + finish of other work, idle plan): the median cost per call."""
    from queuectl.models import AttemptResult, JobSpec, Outcome, WorkerInfo, utcnow
    from queuectl.storage import open_store
    from queuectl.transitions import after_attempt

    store: Any = open_store(url, durable=False)
    store.queue_update("held", limit=0)
    batch = 10_000
    for start in range(0, held, batch):
        store.enqueue_ids([JobSpec("true", queue="held", priority=5, max_retries=0)
                           for _ in range(min(batch, held - start))])
    store.enqueue_ids([JobSpec("true", queue="other", max_retries=0) for _ in range(OTHER)])
    now = utcnow()
    store.register_worker(WorkerInfo("w-bench", "h", os.getpid(), "idle", None, now, now))
    if backend == "postgres":  # the statistics autovacuum would gather within its minute:
        store._connection().execute("ANALYZE jobs")  # plans as a running store gets them
    cost = _counter(store, backend)
    ok = AttemptResult(Outcome.SUCCEEDED, 0, None, b"")
    claim_costs = []
    found: list[Any] = []
    for _ in range(claims):
        claim_costs.append(cost(lambda: found.append(store.claim("w-bench"))))
        job = found.pop()
        assert job is not None and job.queue == "other", job
        store.finish(job, "w-bench", ok, after_attempt(job, ok, lambda j: None))
    while (job := store.claim("w-bench")) is not None:  # the rest of the other work
        store.finish(job, "w-bench", ok, after_attempt(job, ok, lambda j: None))
    if backend == "postgres":  # the finished jobs' index entries cleared, as autovacuum does
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE jobs")
    plan_costs = [cost(lambda: store.idle_plan()) for _ in range(claims)]
    store.close()
    return _median(claim_costs), _median(plan_costs)


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[len(ordered) // 2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heldback", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--held", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=20)
    args = parser.parse_args(argv)
    unit = {"sqlite": "VM instructions", "postgres": "rows read"}
    for backend in args.backends.split(","):
        results = []
        for held in (0, args.held):
            with tempfile.TemporaryDirectory(prefix="queuectl-heldback-") as tmp, \
                    stores.throwaway(backend, tmp) as url:
                results.append(measure(url, backend, held, args.claims))
        (claim0, plan0), (claim1, plan1) = results
        print(f"{backend} ({unit[backend]} per call): claim of other work "
              f"{claim0:,.0f} -> {claim1:,.0f} with {args.held:,} held "
              f"({claim1 / max(claim0, 1):.2f} x); idle plan {plan0:,.0f} -> {plan1:,.0f} "
              f"({plan1 / max(plan0, 1):.2f} x)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
