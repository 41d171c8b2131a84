"""How long one job enqueued after many others holds the store, and what a one-line enqueue
beside it waits.

For each size N: a fresh store, N jobs enqueued in bulk, then one job enqueued ``after``
all N (one transaction, as `enqueue --after` does). Meanwhile a separate process (a client
of the same store, as a second `queuectl enqueue` would be) enqueues one job at a time in a
loop; its longest single enqueue is what a user beside the big enqueue waits.
Both stores; PostgreSQL in a throwaway database (bench/stores.py).

    python -m bench.deps [--sizes 10000 25000 40000] [--backends sqlite postgres] [--chain]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from bench.stores import Unavailable, throwaway
from queuectl.errors import StoreUnavailable
from queuectl.models import JobSpec
from queuectl.storage import open_store

PROBE_PAUSE = 0.005  # seconds between the probe's enqueues


def probe(url: str) -> None:
    """The concurrent enqueuer: one job per loop until stdin closes; then prints, as JSON,
    the longest and the median single enqueue (seconds) and how many it made."""
    import selectors
    import statistics

    store = open_store(url)
    waits: list[float] = []
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    print("ready", flush=True)
    failed = 0
    while not sel.select(PROBE_PAUSE):
        began = time.perf_counter()
        try:
            store.enqueue([JobSpec("true", max_retries=0)])
        except StoreUnavailable:  # the busy timeout ran out: a user would see an error
            failed += 1
        waits.append(time.perf_counter() - began)
    store.close()
    print(json.dumps({"max": max(waits), "median": statistics.median(waits), "n": len(waits),
                      "failed": failed}))


def one_size(url: str, size: int, chain: bool = False) -> dict[str, float]:
    """Seed ``size`` jobs, then time one job after all of them with the probe running;
    ``chain``: instead, one batch (a bulk file) of ``size`` jobs, each after the one before
    it, and one more after all of them."""
    store = open_store(url)
    try:
        if chain:
            ids = [f"c{n}" for n in range(size)]
            specs = [JobSpec("true", max_retries=0, id=job_id, after=tuple(ids[n - 1:n]))
                     for n, job_id in enumerate(ids)]
            specs.append(JobSpec("true", max_retries=0, after=tuple(ids)))
        else:
            seeds = [JobSpec("true", max_retries=0) for _ in range(size)]
            specs = [JobSpec("true", max_retries=0, after=tuple(store.enqueue_ids(seeds)))]
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.deps", "--probe", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # a few probe enqueues before, for its median
        began = time.perf_counter()
        store.enqueue(specs)
        took = time.perf_counter() - began
        time.sleep(0.2)
        child.stdin.close()
        found = json.loads(child.stdout.read())
        child.wait()
        return {"after": size, "enqueue_s": took, "probe_max_s": found["max"],
                "probe_median_s": found["median"], "probe_n": found["n"],
                "probe_failed": found["failed"]}
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000, 40_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--chain", action="store_true",
                        help="a bulk batch of jobs each after the one before, instead")
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.probe)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            for size in args.sizes:
                try:
                    with throwaway(backend, tmp) as url:
                        row = one_size(url, size, args.chain)
                except Unavailable as exc:
                    print(f"{backend}: skipped: {exc}")
                    break
                what = "chain of" if args.chain else "after"
                print(f"{backend:8} {what} {size:>6}: enqueue {row['enqueue_s']:.2f} s; "
                      f"a one-line enqueue beside it: longest {row['probe_max_s'] * 1000:.0f} ms, "
                      f"median {row['probe_median_s'] * 1000:.1f} ms "
                      f"({row['probe_n']:.0f} made, {row['probe_failed']:.0f} failed)", flush=True)


if __name__ == "__main__":
    main()
