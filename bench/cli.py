"""python -m bench [--quick] [--figures ...] [--backends ...] [--peers] [--against REV] [--out F]"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from typing import Any

from bench import against as against_mod
from bench import figures, report, startup, stores
from bench.driver import Queuectl
from bench.seed import seed

FIGURES = ("throughput", "pickup", "enqueue_cli", "bulk", "scale", "cli")
BACKENDS = ("sqlite", "postgres")
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "out", "latest.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every path")
    p.add_argument("--figures", default=",".join(FIGURES),
                   help=f"comma-separated subset of: {','.join(FIGURES)}")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated subset of: sqlite,postgres")
    p.add_argument("--peers", action="store_true",
                   help="also measure huey and procrastinate (temp venv)")
    p.add_argument("--jobs", type=int, help="jobs per throughput run")
    p.add_argument("--repeats", type=int, help="throughput runs per backend")
    p.add_argument("--scale-finished", type=int, help="finished jobs seeded for the scale figure")
    p.add_argument("--scale-pending", type=int, help="pending jobs seeded for the scale figure")
    p.add_argument("--cli-runs", type=int, help="alternating rounds of the cli figure")
    p.add_argument("--against", metavar="REV",
                   help="cli, throughput, pickup: also measure REV's code (git) beside the "
                        "working tree's, in the same sitting")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON results file")
    return p.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> figures.Sizes:
    sizes = figures.QUICK if args.quick else figures.Sizes()
    overrides = {
        "jobs": args.jobs,
        "repeats": args.repeats,
        "scale_finished": args.scale_finished,
        "scale_pending": args.scale_pending,
        "cli_runs": args.cli_runs,
    }
    return replace(sizes, **{k: v for k, v in overrides.items() if v is not None})


def run_backend(
    backend: str, wanted: list[str], sizes: figures.Sizes, workdir: str,
    against: str | None = None,
) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    for name in wanted:
        if name == "scale":
            continue
        print(f"bench: {backend} {name} ...", file=sys.stderr, flush=True)
        if name == "cli":
            figs[name] = startup.cli(backend, workdir, sizes.cli_runs, against)
            continue
        if against and name in ("throughput", "pickup"):
            figs[name] = {**against_mod.run(name, backend, sizes, workdir, against),
                          "against_figure": True}
            continue
        if name == "enqueue_cli":
            if backend == "sqlite":
                figs[name] = figures.enqueue_cli(None, workdir, sizes)
            else:
                with stores.throwaway(backend, workdir) as url:
                    figs[name] = figures.enqueue_cli(url, workdir, sizes)
            continue
        with stores.throwaway(backend, workdir) as url:
            qc = Queuectl(url, workdir)
            try:
                figs[name] = getattr(figures, name)(qc, sizes)
            finally:
                qc.close()
    if "scale" in wanted:
        print(f"bench: {backend} scale ...", file=sys.stderr, flush=True)
        figs["scale"] = scale(backend, sizes, workdir, figs)
    return figs


def scale(
    backend: str, sizes: figures.Sizes, workdir: str, empty: dict[str, Any]
) -> dict[str, Any]:
    """Throughput, pickup and read commands again on a store seeded to the scale size."""
    with stores.throwaway(backend, workdir) as url:
        seconds = seed(url, sizes.scale_finished, sizes.scale_pending)
        qc = Queuectl(url, workdir)
        try:
            out: dict[str, Any] = {"finished": sizes.scale_finished, "pending": sizes.scale_pending,
                                   "seed_seconds": round(seconds, 1)}
            out["reads_ms"] = figures.read_commands(qc, 3 if sizes.cli_runs > 2 else 1)
            out["throughput"] = figures.throughput(qc, sizes, tag="stp")
            out["pickup"] = figures.pickup(qc, sizes, tag="spk", memory=False)
        finally:
            qc.close()
    if tp := empty.get("throughput"):
        out["throughput_slowdown"] = round(tp["ratio"] / out["throughput"]["ratio"], 3)
    if pk := empty.get("pickup"):
        base, now = pk["p50_ms"], out["pickup"]["p50_ms"]
        out["pickup_p50_slowdown"] = round(now / base, 3) if base else None
        out["pickup_ok"] = now <= 1.5 * base or now - base <= 1.0  # ms-resolution timestamps
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from(args)
    wanted = [f for f in args.figures.split(",") if f]
    backends = [b for b in args.backends.split(",") if b]
    unknown = [x for x in wanted if x not in FIGURES] + [b for b in backends if b not in BACKENDS]
    if unknown:
        print(f"bench: unknown figure/backend: {', '.join(unknown)}", file=sys.stderr)
        return 2
    doc: dict[str, Any] = {"meta": _meta(args, sizes), "figures": {}, "skipped": {}, "rows": []}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="queuectl-bench-") as workdir:
        for backend in backends:
            why = stores.postgres_missing() if backend == "postgres" else None
            if why:
                doc["skipped"][backend] = why
                notes.append(f"{backend} skipped: {why}")
                continue
            try:
                figs = run_backend(backend, wanted, sizes, workdir, args.against)
            except Exception as exc:  # noqa: BLE001 - report it, keep the other backends
                traceback.print_exc()
                doc["skipped"][backend] = f"failed: {exc}"
                notes.append(f"{backend} failed: {exc}")
                continue
            doc["figures"][backend] = figs
            doc["rows"].extend(report.rows_for(backend, figs))
        if args.peers:
            from bench import peers

            doc["peers"] = peers.run(sizes, workdir, notes)
            doc["rows"].extend(peers.rows(doc["peers"]))
    doc["meta"]["seconds"] = round(time.time() - doc["meta"]["started"], 1)
    report.print_table(doc["rows"], notes)
    report.write_json(doc, args.out)
    print(f"bench: results written to {args.out}", file=sys.stderr)
    return 0


def _meta(args: argparse.Namespace, sizes: figures.Sizes) -> dict[str, Any]:
    return {
        "started": time.time(), "quick": args.quick, "python": platform.python_version(),
        "machine": f"{os.cpu_count()}-core {platform.machine()} {platform.system()}",
        "sizes": vars(sizes) if hasattr(sizes, "__dict__") else sizes.__dict__,
    }
