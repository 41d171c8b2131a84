"""The throughput and pickup figures of a git revision beside the working tree's, in one
sitting (``--against REV``).

REV's ``src`` is exported with ``git archive`` and put first on PYTHONPATH for every
command and worker of its side, so the same console script and interpreter run REV's
code; each side drains its own throwaway store. Before measuring, the import path of each
side is checked, and each started worker writes where its ``queuectl`` was imported from
(bench/profiling/sitecustomize.py, on PYTHONPATH for both sides), so a figure cannot
silently come from the wrong code. Throughput rounds alternate (tree, REV,
then REV, tree, ...), each pair beside one spawn-ceiling run, so a busy machine slows both
sides alike; the result has each side's figure and the REV / tree ratios.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench import baselines, figures, revision, stores
from bench.driver import Queuectl
from bench.stats import rnd

SIDES = ("tree", "rev")
SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiling")


class WrongCode(RuntimeError):
    """A side would not run (or did not run) the code it is named after."""


def run(name: str, backend: str, sizes: figures.Sizes, workdir: str, rev: str) -> dict[str, Any]:
    """The figure ``name`` (throughput or pickup) for the tree and for ``rev``:
    ``{"tree": {...}, "rev": {...}, "against": commit, "rev_over_tree": {...}}``."""
    with _sides(backend, workdir, rev) as qcs:
        if name == "throughput":
            out = _throughput(qcs, sizes)
        elif name == "pickup":
            out = {side: figures.pickup(qc, sizes, tag=f"pk{side}", memory=False)
                   for side, qc in qcs.items()}
        else:
            raise ValueError(name)
    out["against"] = revision.commit_of(rev)
    out["rev_over_tree"] = _ratios(name, out)
    return out


@contextmanager
def _sides(backend: str, workdir: str, rev: str) -> Iterator[dict[str, Queuectl]]:
    with ExitStack() as stack:
        src = stack.enter_context(revision.exported(rev))
        qcs: dict[str, Queuectl] = {}
        for side in SIDES:
            url = stack.enter_context(stores.throwaway(backend, workdir))
            home = os.path.join(workdir, side)
            code = src if side == "rev" else None
            os.makedirs(home, exist_ok=True)
            qc = _checked(Queuectl(url, home), code)
            stack.callback(qc.close)
            _check_import(qc, code)
            qcs[side] = qc
        yield qcs


def _check_import(qc: Queuectl, src: str | None) -> None:
    where = revision.imported_from(qc.env)
    inside = src is not None and where.startswith(src + os.sep)
    if inside != (src is not None):
        raise WrongCode(f"queuectl imports from {where}, expected {src or 'the working tree'}")


def _checked(qc: Queuectl, src: str | None) -> Queuectl:
    """``qc`` with its start_workers checking which code each worker runs: each forked
    process writes where it imported ``queuectl`` from (profiling/sitecustomize.py)."""
    start = qc.start_workers
    where = tempfile.mkdtemp(dir=qc.workdir)
    qc.env["QUEUECTL_BENCH_WHERE"] = where
    qc.env["PYTHONPATH"] = os.pathsep.join(p for p in (src, SITE) if p)

    def start_checked(count: int, wait: bool = True) -> Any:
        proc = start(count, wait)
        for pid in qc.worker_pids():
            try:
                with open(os.path.join(where, str(pid)), encoding="utf-8") as f:
                    got = f.read()
            except FileNotFoundError:
                raise WrongCode(f"worker {pid} did not say where its code is from") from None
            if (src is not None) != got.startswith(str(src) + os.sep):
                raise WrongCode(f"worker {pid} runs queuectl from {got}, expected "
                                f"{src or 'the working tree'}")
        return proc

    qc.start_workers = start_checked  # type: ignore[method-assign]
    return qc


def _throughput(qcs: dict[str, Queuectl], sizes: figures.Sizes) -> dict[str, Any]:
    rounds: dict[str, list[figures.Round]] = {side: [] for side in SIDES}
    ceilings = []
    for r in range(sizes.repeats):
        ceilings.append(baselines.spawn_ceiling(figures.WORKERS, sizes.ceiling_spawns,
                                                qcs["tree"].workdir))
        for side in SIDES if r % 2 == 0 else SIDES[::-1]:
            rounds[side].append(figures.throughput_round(qcs[side], sizes, f"tp{r}"))
    return {side: figures.throughput_summary(rounds[side], ceilings, sizes) for side in SIDES}


RATIOS: dict[str, tuple[str, ...]] = {
    "throughput": ("ratio", "jobs_per_s", "worker_cpu_us", "job_shell_cpu_us"),
    "pickup": ("p50_ms", "p95_ms", "max_ms", "idle_cpu_percent", "idle_rss_mb"),
}


def _ratios(name: str, out: dict[str, Any]) -> dict[str, float | None]:
    def div(a: Any, b: Any) -> float | None:
        return rnd(a / b) if a is not None and b else None

    return {key: div(out["rev"][key], out["tree"][key]) for key in RATIOS[name]}


def rows(backend: str, name: str, fig: dict[str, Any]) -> list[list[Any]]:
    """Table rows: the figure for the tree and for REV, and REV / tree."""
    tree, rev, rel, at = fig["tree"], fig["rev"], fig["rev_over_tree"], fig["against"]
    if name == "throughput":
        return [
            [f"throughput / ceiling: tree, {at}", backend, f"{tree['ratio']}, {rev['ratio']}",
             f"runs {tree['ratio_runs']}, {rev['ratio_runs']}", rel["ratio"],
             f"{at} / tree", ""],
            [f"worker CPU per job (us): tree, {at}", backend,
             f"{tree['worker_cpu_us']}, {rev['worker_cpu_us']}",
             f"runs {tree['worker_cpu_us_runs']}, {rev['worker_cpu_us_runs']}",
             rel["worker_cpu_us"], f"{at} / tree", ""],
        ]
    return [[f"pickup p50 / max (ms): tree, {at}", backend,
             f"{tree['p50_ms']} / {tree['max_ms']}, {rev['p50_ms']} / {rev['max_ms']}", "",
             rel["p50_ms"], f"{at} / tree", ""]]
