"""python -m bench.storepath [--against REV] [--backends sqlite,postgres] [--callgrind]

The worker's store path alone, in one process: register, enqueue N+1 `true` jobs, claim
one, then N x finish_and_claim (the call a busy worker makes per job), no worker loop and
no job process. Printed per side: CPU µs per job (the process's own, and on PostgreSQL its
server backend's, from /proc/PID/schedstat); with ``--callgrind``, instructions per job
instead: the loop run under valgrind for 100 and for 400 jobs, the difference over 300.
Instructions do not move with the machine's load, so two sides compare in any sitting.
``--against REV`` runs REV's code (its ``src`` first on PYTHONPATH) beside the tree's.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench import revision, stores

SMALL, LARGE = 100, 400  # jobs in the two callgrind runs


def loop(url: str, jobs: int) -> None:
    """Run the store path on ``url`` (a fresh store) and print its CPU per job."""
    from queuectl.models import AttemptResult, JobSpec, Outcome, WorkerInfo
    from queuectl.storage import open_store

    store: Any = open_store(url, durable=False)
    # WorkerInfo's fields differ between revisions: what a registration reads, the rest None.
    params = inspect.signature(WorkerInfo).parameters
    given = {"id": "w-storepath", "host": "h", "pid": os.getpid(), "queues": [],
             "pid_scope": ""}
    info = WorkerInfo(**{name: given.get(name) for name, p in params.items()
                         if name in given or p.default is inspect.Parameter.empty})
    store.register_worker(info)
    store.enqueue([JobSpec(command="true", max_retries=3) for _ in range(jobs + 1)])
    job = store.claim(info.id)
    ok = AttemptResult(Outcome.SUCCEEDED, 0, None, b"", 0)
    try:
        from queuectl.transitions import after_attempt

        def step(claimed: Any) -> Any:
            return after_attempt(claimed, ok, lambda _: None)  # type: ignore[arg-type,return-value]
    except ImportError:  # a revision whose store applied the policy itself (653e508)
        def step(claimed: Any) -> Any:
            return None
    backend = _backend_pid(store)
    server0 = _schedstat(backend)
    cpu0 = time.process_time()
    for _ in range(jobs):
        _, job = store.finish_and_claim(job, info.id, ok, step(job), None)
    cpu = time.process_time() - cpu0
    server = _schedstat(backend) - server0
    print(f"{cpu / jobs * 1e6:.1f} {server / jobs * 1e6:.1f}")


def _backend_pid(store: Any) -> int | None:
    if not hasattr(store, "_db") or type(store).__name__ != "PostgresStorage":
        return None
    with store._db() as conn:
        return int(conn.info.backend_pid)


def _schedstat(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
        return int(f.read().split()[0]) / 1e9


def _run(src: str | None, backend: str, jobs: int, callgrind: bool) -> tuple[float, float]:
    """(client, server) per job: CPU µs, or client instructions (server 0)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory(prefix="queuectl-storepath-") as tmp, \
            stores.throwaway(backend, tmp) as url:
        cmd = [sys.executable, "-m", "bench.storepath", "--loop", url, str(jobs)]
        if not callgrind:
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            client, server = out.stdout.split()
            return float(client), float(server)
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", *cmd]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", out.stderr)
        assert found is not None, out.stderr[-2000:]
        return float(found.group(1)), 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storepath", description=__doc__)
    parser.add_argument("--against")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--loop", nargs=2, help=argparse.SUPPRESS)  # url, jobs: the child
    args = parser.parse_args(argv)
    if args.loop:
        loop(args.loop[0], int(args.loop[1]))
        return 0
    with revision.exported(args.against) as against:
        sides = [("tree", None)] + ([(args.against, against)] if args.against else [])
        for backend in args.backends.split(","):
            for name, src in sides:
                if args.callgrind:
                    small = _run(src, backend, SMALL, True)[0]
                    large = _run(src, backend, LARGE, True)[0]
                    print(f"{backend} {name}: {(large - small) / (LARGE - SMALL):,.0f} "
                          "instructions per job (client)")
                else:
                    client, server = _run(src, backend, args.jobs, False)
                    print(f"{backend} {name}: {client:.1f} µs CPU per job (client)"
                          + (f", {server:.1f} (server)" if server else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
