"""Each figure: measured through the installed CLI, beside its baseline from the same run."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import baselines, importtime
from bench.driver import Queuectl, console_script, cpu_seconds, cpu_split, proc_status
from bench.stats import epoch, median, percentile, ratio, rnd

WORKERS = 2  # worker processes, and processes in the spawn ceiling
BIG_OUTPUT = 100_000_000  # bytes printed by the memory figure's job


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is (--quick shrinks all of them)."""

    jobs: int = 500  # `true` jobs per throughput run
    repeats: int = 3  # throughput runs (median)
    ceiling_spawns: int = 500  # spawns per process in one ceiling run
    pickups: int = 40  # single enqueues timed for pickup
    idle_window: float = 3.0  # seconds an idle worker's CPU is watched
    cli_runs: int = 21  # `queuectl enqueue` vs `python -c pass` pairs
    bulk_jobs: int = 100_000  # jobs in the --file of the bulk figure
    bulk_repeats: int = 3
    scale_finished: int = 1_000_000
    scale_pending: int = 100_000
    big_output: int = BIG_OUTPUT


QUICK = Sizes(jobs=20, repeats=1, ceiling_spawns=20, pickups=3, idle_window=0.3, cli_runs=2,
              bulk_jobs=200, bulk_repeats=1, scale_finished=300, scale_pending=50,
              big_output=3_000_000)


def _window_rate(jobs: list[dict[str, Any]]) -> float:
    start = min(epoch(j["started_at"]) for j in jobs)
    end = max(epoch(j["finished_at"]) for j in jobs)
    return len(jobs) / max(end - start, 0.001)  # timestamps are whole milliseconds


def _check_all_completed(jobs: list[dict[str, Any]], expected: int) -> None:
    bad = [j for j in jobs if j["state"] != "completed" or j["attempts"] != 1]
    if len(jobs) != expected or bad:
        raise RuntimeError(f"expected {expected} completed jobs, got {len(jobs)} ({len(bad)} bad)")


# --- throughput ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """One throughput run: jobs/s, and CPU seconds per job of the workers and their shells."""

    rate: float
    worker_cpu: float
    shell_cpu: float


def throughput(qc: Queuectl, sizes: Sizes, tag: str = "tp") -> dict[str, Any]:
    """Start `worker start --count 2`, enqueue N `true` jobs, wait until all are finished;
    rate from the first start to the last finish (the jobs' own timestamps); a spawn-ceiling
    run before each queue run. Also the CPU per job of the workers themselves and of the
    jobs' shells (from /proc: the workers' own times and their reaped children's), beside
    the spawning loop's and the shells' CPU per spawn in the ceiling: the figure is
    CPU-bound, and these say where the difference goes."""
    ceilings, rounds = [], []
    for r in range(sizes.repeats):
        ceilings.append(baselines.spawn_ceiling(WORKERS, sizes.ceiling_spawns, qc.workdir))
        rounds.append(throughput_round(qc, sizes, f"{tag}{r}"))
    return throughput_summary(rounds, ceilings, sizes)


def throughput_round(qc: Queuectl, sizes: Sizes, queue: str) -> Round:
    """One drain of ``sizes.jobs`` `true` jobs by a fresh pool of 2 workers."""
    before = _finished(qc)
    qc.start_workers(WORKERS)
    pids = qc.worker_pids()
    cpu_before = [cpu_split(pid) for pid in pids]
    qc.enqueue_many(sizes.jobs, queue=queue)
    qc.wait_finished(before + sizes.jobs)
    cpu_after = [cpu_split(pid) for pid in pids]
    qc.stop_workers()
    jobs = qc.jobs(queue)
    _check_all_completed(jobs, sizes.jobs)
    spent = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(cpu_after, cpu_before, strict=True)]
    return Round(_window_rate(jobs), sum(own for own, _ in spent) / sizes.jobs,
                 sum(shells for _, shells in spent) / sizes.jobs)


def throughput_summary(
    rounds: list[Round], ceilings: list[baselines.Ceiling], sizes: Sizes
) -> dict[str, Any]:
    """Medians of the rounds, each rate taken as a ratio to the ceiling run beside it."""
    rates = [r.rate for r in rounds]
    pairs = [r.rate / c.per_s for r, c in zip(rounds, ceilings, strict=True)]
    return {
        "jobs": sizes.jobs, "workers": WORKERS, "runs": len(rounds),
        "jobs_per_s": rnd(median(rates), 1),
        "ceiling_per_s": rnd(median([c.per_s for c in ceilings]), 1),
        "ratio": rnd(median(pairs)), "ratio_runs": [rnd(p) for p in pairs],
        "rates": [rnd(x, 1) for x in rates], "ceilings": [rnd(c.per_s, 1) for c in ceilings],
        # CPU per job or per spawn in microseconds; /proc counts 10 ms ticks, so use
        # enough jobs (the full size's 2 x ~250 ms per run is good to a few per cent)
        "worker_cpu_us": _us(median([r.worker_cpu for r in rounds])),
        "worker_cpu_us_runs": [_us(r.worker_cpu) for r in rounds],
        "job_shell_cpu_us": _us(median([r.shell_cpu for r in rounds])),
        "ceiling_loop_cpu_us": _us(median([c.loop_cpu for c in ceilings])),
        "ceiling_shell_cpu_us": _us(median([c.shell_cpu for c in ceilings])),
    }


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6)


def _finished(qc: Queuectl) -> int:
    return qc.finished()


# --- pickup, idle CPU, memory -------------------------------------------------------------


def pickup(qc: Queuectl, sizes: Sizes, tag: str = "pk", memory: bool = True) -> dict[str, Any]:
    """Idle workers; one `queuectl enqueue -c true` at a time; pickup = attempt start minus
    the job's created_at. Also the idle workers' CPU and RSS, and the big-output job."""
    qc.start_workers(WORKERS)
    time.sleep(0.3)  # let start-up settle before watching idle CPU
    pids = qc.worker_pids()
    idle = _idle_cpu(pids, sizes.idle_window)
    rss = {pid: proc_status(pid)["VmRSS"] for pid in pids}
    queue = f"{tag}"
    for _ in range(sizes.pickups):
        qc.run("enqueue", "-c", "true", "--queue", queue)
        time.sleep(0.02)
    deadline = time.monotonic() + 30
    while True:
        jobs = qc.jobs(queue)
        if all(j["finished_at"] for j in jobs) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    waits = [(epoch(j["started_at"]) - epoch(j["created_at"])) * 1000 for j in jobs]
    out: dict[str, Any] = {
        "samples": len(waits), "p50_ms": rnd(median(waits), 1),
        "p95_ms": rnd(percentile(waits, 95), 1), "max_ms": rnd(max(waits), 1),
        "idle_cpu_percent": rnd(max(idle.values()), 2),
        "idle_rss_mb": rnd(max(rss.values()) / 1024, 1),
        # every sample, in enqueue order: a lone spike is usually a slow durable commit
        "waits_ms": [rnd((epoch(j["started_at"]) - epoch(j["created_at"])) * 1000, 1)
                     for j in sorted(jobs, key=lambda j: epoch(j["created_at"]))],
    }
    if memory:
        out["big_output"] = _big_output(qc, sizes, pids)
    qc.stop_workers()
    return out


def _idle_cpu(pids: list[int], window: float) -> dict[int, float]:
    before = {pid: cpu_seconds(pid) for pid in pids}
    time.sleep(window)
    return {pid: (cpu_seconds(pid) - before[pid]) / window * 100 for pid in pids}


def _big_output(qc: Queuectl, sizes: Sizes, pids: list[int]) -> dict[str, Any]:
    """A job printing ``big_output`` bytes: the worker's peak RSS growth vs max-log-bytes."""
    hwm_before = {pid: proc_status(pid)["VmHWM"] for pid in pids}
    max_log = int(qc.run("config", "get", "max-log-bytes").stdout.decode().strip().split()[-1])
    qc.run("enqueue", "-c", f"head -c {sizes.big_output} /dev/zero", "--queue", "big")
    qc.wait_for(lambda: all(j["finished_at"] for j in qc.jobs("big")), 120, "big output job")
    job = qc.jobs("big")[0]
    pid = qc.worker_pid(job["worker"])
    growth_kb = proc_status(pid)["VmHWM"] - hwm_before[pid]
    return {
        "output_bytes": sizes.big_output, "max_log_bytes": max_log,
        "peak_growth_mb": rnd(max(growth_kb, 0) / 1024, 2),
        "growth_over_max_log": rnd(max(growth_kb, 0) * 1024 / max_log, 2),
        "state": job["state"],
    }


# --- enqueue from a fresh process ---------------------------------------------------------


def enqueue_cli(url: str | None, workdir: str, sizes: Sizes) -> dict[str, Any]:
    """`queuectl enqueue -c true` wall time against `python3 -c pass`, interleaved."""
    exe = console_script()
    env = {**os.environ, "QUEUECTL_HOME": os.path.join(workdir, "home-cli")}
    env.pop("QUEUECTL_DB", None)
    if url:
        env["QUEUECTL_DB"] = url
    argv = [exe, "enqueue", "-c", "true"]
    for _ in range(2):  # warm the page cache and create the store
        baselines.time_command(argv, env)
    bare, cli = [], []
    for _ in range(sizes.cli_runs):
        bare.append(baselines.python_start())
        seconds, proc = baselines.time_command(argv, env)
        if proc.returncode != 0:
            raise RuntimeError(f"enqueue failed: {proc.stderr.decode(errors='replace')}")
        cli.append(seconds)
    bare_ms, cli_ms = baselines.median_ms(bare), baselines.median_ms(cli)
    return {
        "runs": sizes.cli_runs, "enqueue_ms": rnd(cli_ms, 1), "python_pass_ms": rnd(bare_ms, 1),
        "ratio": rnd(ratio(cli_ms, bare_ms), 2),
        "imports": importtime.profile([sys.executable, "-X", "importtime", *argv], env),
    }


# --- bulk enqueue -------------------------------------------------------------------------


def bulk(qc: Queuectl, sizes: Sizes) -> dict[str, Any]:
    """`queuectl enqueue --file` with N JSON lines: jobs per second of the whole command."""
    rates = []
    for r in range(sizes.bulk_repeats):
        path = os.path.join(qc.workdir, f"bulk-{r}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f'{{"command": "true", "queue": "bulk{r}"}}\n' * sizes.bulk_jobs)
        seconds, proc = baselines.time_command([qc.exe, "enqueue", "--file", path], qc.env)
        if proc.returncode != 0:
            raise RuntimeError(f"bulk enqueue failed: {proc.stderr.decode(errors='replace')}")
        rates.append(sizes.bulk_jobs / seconds)
    return {"jobs": sizes.bulk_jobs, "runs": sizes.bulk_repeats,
            "jobs_per_s": rnd(median(rates), 0), "rates": [rnd(x, 0) for x in rates]}


# --- read commands on a big store ---------------------------------------------------------

READ_COMMANDS = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "list": ["list"],
    "list --json": ["list", "--json"],
    "list --state pending": ["list", "--state", "pending"],
    "list --state dead": ["list", "--state", "dead"],
}


def read_commands(qc: Queuectl, runs: int) -> dict[str, Any]:
    """Wall ms (median) of status/list through the CLI, and `python3 -c pass` beside them."""
    out: dict[str, Any] = {}
    for name, args in READ_COMMANDS.items():
        samples = [baselines.time_command([qc.exe, *args], qc.env)[0] for _ in range(runs)]
        out[name] = rnd(baselines.median_ms(samples), 1)
    bare = [baselines.python_start() for _ in range(runs)]
    out["python -c pass"] = rnd(baselines.median_ms(bare), 1)
    return out
