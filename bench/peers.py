"""--peers: huey (SQLite, 2 worker processes) and procrastinate (PostgreSQL, 2 worker
processes) installed in a throwaway venv, running the same `true` shell jobs (subprocess,
output captured), measured the same way as queuectl, beside a spawn-ceiling run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench import baselines, stores
from bench.figures import WORKERS, Sizes
from bench.stats import median, percentile, rnd

APPS = os.path.join(os.path.dirname(__file__), "peer_apps")
PACKAGES = ["huey", "procrastinate", "psycopg[binary]"]


def run(sizes: Sizes, workdir: str, notes: list[str]) -> dict[str, Any]:
    print("bench: peers: installing huey and procrastinate in a temp venv ...", file=sys.stderr)
    venv = os.path.join(workdir, "peers-venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    pip = subprocess.run([py, "-m", "pip", "install", "-q", *PACKAGES], capture_output=True,
                         text=True)
    if pip.returncode != 0:
        notes.append(f"peers skipped: pip install failed: {pip.stderr.strip()[-200:]}")
        return {}
    out: dict[str, Any] = {}
    for name, measure in (("huey", _huey), ("procrastinate", _procrastinate)):
        print(f"bench: peers: {name} ...", file=sys.stderr, flush=True)
        try:
            out[name] = measure(venv, sizes, workdir)
        except Exception as exc:  # noqa: BLE001 - a peer failing must not sink the run
            notes.append(f"peer {name} failed: {exc}")
    return out


class _Peer:
    """One peer queue: its enqueue script, its worker command line, its results file."""

    def __init__(self, venv: str, workdir: str, app: str, db: str) -> None:
        self.py = os.path.join(venv, "bin", "python")
        self.bin = os.path.join(venv, "bin")
        self.app = app
        self.results = os.path.join(workdir, f"{app}.results")
        self.env = {**os.environ, "PEER_DB": db, "PEER_RESULTS": self.results,
                    "PYTHONPATH": APPS}
        self.workdir = workdir

    def call(self, *args: str) -> None:
        subprocess.run([self.py, os.path.join(APPS, f"{self.app}.py"), *args], env=self.env,
                       check=True, capture_output=True, cwd=self.workdir)

    def start(self, argv: list[str]) -> list[subprocess.Popen[bytes]]:
        log = open(os.path.join(self.workdir, f"{self.app}.log"), "ab")  # noqa: SIM115
        return [subprocess.Popen(argv, env=self.env, cwd=self.workdir, stdout=log, stderr=log,
                                 start_new_session=True)]

    def records(self) -> list[tuple[float, float, float]]:
        if not os.path.exists(self.results):
            return []
        with open(self.results, encoding="ascii") as f:
            return [tuple(map(float, line.split())) for line in f if line.strip()]  # type: ignore[misc]

    def wait_records(self, count: int, timeout: float = 300) -> list[tuple[float, float, float]]:
        deadline = time.monotonic() + timeout
        while len(found := self.records()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.app}: {len(found)}/{count} jobs done")
            time.sleep(0.05)
        return found

    def reset(self) -> None:
        if os.path.exists(self.results):
            os.unlink(self.results)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _measure(peer: _Peer, start_workers: Any, sizes: Sizes) -> dict[str, Any]:
    ceilings, rates = [], []
    for _ in range(sizes.repeats):
        ceilings.append(baselines.spawn_ceiling(WORKERS, sizes.ceiling_spawns, peer.workdir).per_s)
        peer.reset()
        peer.call(str(sizes.jobs))
        procs = start_workers()
        try:
            recs = peer.wait_records(sizes.jobs)
        finally:
            _stop(procs)
        window = max(r[2] for r in recs) - min(r[1] for r in recs)
        rates.append(len(recs) / window)
    peer.reset()
    procs = start_workers()
    try:
        time.sleep(2.0)  # idle workers, as for queuectl's pickup
        peer.call(str(sizes.pickups), "0.1")
        recs = peer.wait_records(sizes.pickups)
    finally:
        _stop(procs)
    waits = [(r[1] - r[0]) * 1000 for r in recs]
    pairs = [r / c for r, c in zip(rates, ceilings, strict=True)]
    return {
        "throughput": {"jobs": sizes.jobs, "jobs_per_s": rnd(median(rates), 1),
                       "ceiling_per_s": rnd(median(ceilings), 1), "ratio": rnd(median(pairs))},
        "pickup": {"samples": len(waits), "p50_ms": rnd(median(waits), 1),
                   "p95_ms": rnd(percentile(waits, 95), 1), "max_ms": rnd(max(waits), 1)},
    }


def _huey(venv: str, sizes: Sizes, workdir: str) -> dict[str, Any]:
    peer = _Peer(venv, workdir, "huey_app", os.path.join(workdir, "huey.db"))
    argv = [os.path.join(peer.bin, "huey_consumer"), "huey_app.huey", "-w", str(WORKERS),
            "-k", "process"]
    result = _measure(peer, lambda: peer.start(argv), sizes)
    result["setup"] = "SqliteHuey, huey_consumer -w 2 -k process (default polling)"
    return result


def _procrastinate(venv: str, sizes: Sizes, workdir: str) -> dict[str, Any]:
    reason = stores.postgres_missing(need_queuectl_store=False)
    if reason:
        raise RuntimeError(reason)
    with stores.throwaway("postgres", workdir, need_queuectl_store=False) as url:
        peer = _Peer(venv, workdir, "procrastinate_app", url)
        peer.call("schema")
        argv = [os.path.join(peer.bin, "procrastinate"), "--app=procrastinate_app.app",
                "worker", "--concurrency", "1"]

        def start() -> list[subprocess.Popen[bytes]]:
            return [p for _ in range(WORKERS) for p in peer.start(argv)]

        result = _measure(peer, start, sizes)
    result["setup"] = "2 x `procrastinate worker --concurrency 1` (LISTEN/NOTIFY)"
    return result


def rows(peers: dict[str, Any]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for name, fig in peers.items():
        backend = "sqlite" if name == "huey" else "postgres"
        tp, pk = fig["throughput"], fig["pickup"]
        ceiling = f"ceiling {tp['ceiling_per_s']}"
        out.append([f"peer {name}: throughput (jobs/s)", backend, tp["jobs_per_s"], ceiling,
                    tp["ratio"], "(reference)", None])
        out.append([f"peer {name}: pickup p50 / p95 / max (ms)", backend,
                    f"{pk['p50_ms']} / {pk['p95_ms']} / {pk['max_ms']}", "", "", "(reference)",
                    None])
    return out
